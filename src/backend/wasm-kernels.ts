// Placeholder: the backend helper registers Conv2DBackpropFilter, Conv2DBackpropInput and MaxPoolGrad for wasm.
export function registerWasmTrainingKernels(): void {}
