/** The `mnist-cnn` executable's entry (bin/mnist-cnn.js runs the built copy): parse argv and run. */
import { main, reportFailure } from './program.js';

// An error that escapes every await (an 'error' event no one listens to, a promise no one
// awaits) is reported like any other, in one line or as a bug, and ends the process.
const reportAndExit = (err: unknown) => {
  reportFailure(err);
  process.exit();
};
process.on('uncaughtException', reportAndExit);
process.on('unhandledRejection', reportAndExit);

await main();
