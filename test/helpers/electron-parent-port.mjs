// Loaded with --import into a Node child process by the fake utilityProcess: gives it the
// `process.parentPort` an Electron utility process has. Messages arrive as {data}, and, as in Electron,
// wait until a listener is registered (the IPC channel is read only from then on).
import { EventEmitter } from 'node:events';

const port = new EventEmitter();
port.once('newListener', (event) => {
  if (event === 'message') process.on('message', (data) => port.emit('message', { data, ports: [] }));
});
port.postMessage = (message) => process.send(message);
process.parentPort = port;
// A utility process ends with its app; here, with the IPC channel the fake talks over.
process.on('disconnect', () => process.exit(0));
