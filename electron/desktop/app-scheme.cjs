// The app:// scheme's privileges, shared by the CommonJS entry (which must register them synchronously at
// startup) and the TypeScript side (app-protocol.ts). Plain data in CommonJS so entry.cjs can require it.
'use strict';

module.exports = {
  APP_SCHEME_PRIVILEGES: {
    scheme: 'app',
    // standard: real origins and relative URLs; secure: like https (no mixed-content limits);
    // supportFetchAPI: fetch() of app files; codeCache: V8 caches the editor's scripts.
    privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true },
  },
};
