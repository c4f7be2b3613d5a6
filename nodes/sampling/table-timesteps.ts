/**
 * For solvers that walk only their scheduler's own grid of training levels (PNDM, DDPM, LCM): the integer
 * training timestep of a grid level, which their updates read (diffusers indexes alphas_cumprod with it).
 */

/**
 * A lookup from a VE level of the training table to its integer timestep. Grid levels are the table's
 * entries themselves, so the match is exact; any other level fails naming the solver and why.
 */
export function trainingTimestepLookup(tableSigmas: ArrayLike<number>, solver: string, why: string): (sigma: number) => number {
  const indexOf = new Map<number, number>();
  for (let t = 0; t < tableSigmas.length; t++) indexOf.set(tableSigmas[t], t);
  return (sigma) => {
    const t = indexOf.get(sigma);
    if (t === undefined) throw new Error(`${solver}: level ${sigma} is not one of the model's training levels (${why})`);
    return t;
  };
}
