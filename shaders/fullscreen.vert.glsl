#version 300 es
// One triangle covering the viewport, made from gl_VertexID: no vertex buffers to manage.
// The fragment shaders address texels with gl_FragCoord, so no texture coordinates are passed on.
void main() {
  vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
  gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
