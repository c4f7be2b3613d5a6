/**
 * What to do about a provider that is missing or does not start, where the cause is known. Measured on a
 * Linux machine with an NVIDIA H200 (2026-11-29): onnxruntime-node's bundled WebGPU provider (Dawn) found no
 * adapter until the Vulkan loader (libvulkan1) was installed, and NVIDIA's Vulkan driver then still failed
 * ("Could not get 'vkCreateInstance' ... for ICD libGLX_nvidia.so.0") until the libglvnd libraries were too.
 * With them it ran FlowStudio's models on the GPU, with results equal to the CPU's.
 */
import type { ProviderCheck } from '../api.ts';

export function providerHint(check: Pick<ProviderCheck, 'provider' | 'state' | 'error'>, platform: string): string | undefined {
  if (check.provider === 'cuda' && check.state === 'not-installed') return 'npm run setup:cuda adds it';
  if (check.provider === 'webgpu' && check.state === 'fails' && /adapter/i.test(check.error ?? '')) {
    return platform === 'linux'
      ? "no GPU adapter: on Linux WebGPU runs over Vulkan, so install the Vulkan loader (libvulkan1) and your GPU's Vulkan driver; NVIDIA's driver also needs libglvnd (libglvnd0, libglx0, libegl1)"
      : 'no GPU adapter: install or update the GPU driver';
  }
  return undefined;
}
