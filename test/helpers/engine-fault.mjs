// Loaded into an engine process with --import by tests: a listModels call makes the process throw an
// exception nothing catches, as a bug in the engine's own code would. It wraps the engine's own message
// listener rather than adding one: a listener added before the engine's would read its first message early.
const on = process.on.bind(process);
process.on = (event, listener) => {
  if (event !== 'message') return on(event, listener);
  return on(event, (m, handle) => {
    if (m && m.kind === 'call' && m.method === 'listModels') setImmediate(() => { throw new Error('injected fault'); });
    else listener(m, handle);
  });
};
