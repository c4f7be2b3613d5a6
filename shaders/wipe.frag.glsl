#version 300 es
// A/B wipe: pixels before the split column (or row) come from A, the rest from B.
// Same rule as renderWipeCpu (renderer/src/debug/cpu-render.ts); the views are opaque.
precision highp float;
precision highp int;

uniform sampler2D u_a; // RGBA8, texture row 0 = image top
uniform sampler2D u_b;
uniform int u_height;
uniform int u_split;   // in pixels
uniform bool u_vertical;

out vec4 outColor;

void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  p.y = u_height - 1 - p.y;
  int along = u_vertical ? p.y : p.x;
  vec3 rgb = along < u_split ? texelFetch(u_a, p, 0).rgb : texelFetch(u_b, p, 0).rgb;
  outColor = vec4(rgb, 1.0);
}
