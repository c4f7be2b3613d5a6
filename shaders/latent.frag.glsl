#version 300 es
// Latent -> RGB with channel mapping and per-channel normalization.
// Same rule as renderLatentCpu (renderer/src/debug/cpu-render.ts):
//   d = bias + sum over layers of weight * value (zero weights skipped)
//   out = clamp01((d - lo) * scale + base), NaN -> 0
precision highp float;
precision highp int;
precision highp sampler2DArray;

#define MAX_LAYERS 32

uniform sampler2DArray u_layers; // R32F, one layer per latent channel in use, layer row 0 = image top
uniform int u_layerCount;
uniform int u_height;
uniform vec3 u_weights[MAX_LAYERS]; // contribution of each layer to R, G, B
uniform vec3 u_bias;
uniform vec3 u_lo;
uniform vec3 u_scale;
uniform vec3 u_base;

out vec4 outColor;

float unitClamp(float v) {
  // NaN fails the comparison and becomes 0, as on the CPU path.
  return v >= 0.0 ? min(v, 1.0) : 0.0;
}

void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  p.y = u_height - 1 - p.y; // framebuffer rows count from the bottom, tensor rows from the top
  vec3 d = u_bias;
  for (int l = 0; l < MAX_LAYERS; ++l) {
    if (l >= u_layerCount) break;
    float x = texelFetch(u_layers, ivec3(p, l), 0).r;
    vec3 w = u_weights[l];
    d += vec3(w.r != 0.0 ? w.r * x : 0.0, w.g != 0.0 ? w.g * x : 0.0, w.b != 0.0 ? w.b * x : 0.0);
  }
  vec3 v = (d - u_lo) * u_scale + u_base;
  outColor = vec4(unitClamp(v.r), unitClamp(v.g), unitClamp(v.b), 1.0);
}
