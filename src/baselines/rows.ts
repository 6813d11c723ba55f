/** Row-major values (`dims` a row) as the arrays of rows that the ml.js libraries take. */
export function asRows(x: Float32Array, dims: number): number[][] {
  return Array.from({ length: x.length / dims }, (_, i) => Array.from(x.subarray(i * dims, (i + 1) * dims)));
}
