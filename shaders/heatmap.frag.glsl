#version 300 es
// Difference heatmap: mean over channels of |a - b|, times 1/max, through a 256-entry colormap.
// Same rule as renderHeatmapCpu (renderer/src/debug/cpu-render.ts).
precision highp float;
precision highp int;
precision highp sampler2DArray;

uniform sampler2DArray u_a; // R32F, one layer per channel
uniform sampler2DArray u_b;
uniform sampler2D u_lut;    // 256 x 1 RGBA8 colormap
uniform int u_channels;
uniform int u_height;
uniform float u_invMax;     // 0 when A equals B everywhere

out vec4 outColor;

void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  p.y = u_height - 1 - p.y;
  float sum = 0.0;
  for (int c = 0; c < u_channels; ++c) {
    sum += abs(texelFetch(u_a, ivec3(p, c), 0).r - texelFetch(u_b, ivec3(p, c), 0).r);
  }
  float t = (sum / float(u_channels)) * u_invMax;
  // NaN fails the comparison and takes the top colour, as on the CPU path.
  t = t >= 0.0 ? min(t, 1.0) : (t < 0.0 ? 0.0 : 1.0);
  int index = int(floor(t * 255.0 + 0.5));
  outColor = vec4(texelFetch(u_lut, ivec2(index, 0), 0).rgb, 1.0);
}
