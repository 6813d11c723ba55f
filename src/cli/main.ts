/** The `mnist-cnn` executable's entry (bin/mnist-cnn.js runs the built copy): parse argv and run. */
import { main } from './program.js';

await main();
