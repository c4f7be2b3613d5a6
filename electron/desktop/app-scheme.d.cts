export declare const APP_SCHEME_PRIVILEGES: {
  readonly scheme: 'app';
  readonly privileges: { readonly standard: true; readonly secure: true; readonly supportFetchAPI: true; readonly codeCache: true };
};
