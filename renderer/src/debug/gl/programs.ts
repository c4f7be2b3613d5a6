/**
 * Compiles the debug-view shaders (sources in shaders/, imported as text by vite's `?raw`) into WebGL2
 * programs, with compile and link logs in the error so a driver problem names the shader that failed.
 */
import vertexSource from '../../../../shaders/fullscreen.vert.glsl?raw';
import latentSource from '../../../../shaders/latent.frag.glsl?raw';
import heatmapSource from '../../../../shaders/heatmap.frag.glsl?raw';
import wipeSource from '../../../../shaders/wipe.frag.glsl?raw';

export const FRAGMENT_SOURCES = {
  latent: latentSource,
  heatmap: heatmapSource,
  wipe: wipeSource,
} as const;

export type ProgramName = keyof typeof FRAGMENT_SOURCES;

export interface LinkedProgram {
  program: WebGLProgram;
  /** Uniform location by name (null when the compiler removed an unused uniform). */
  uniform(name: string): WebGLUniformLocation | null;
}

function compile(gl: WebGL2RenderingContext, type: number, source: string, label: string): WebGLShader {
  const shader = gl.createShader(type);
  if (!shader) throw new Error(`DebugRenderer: could not create the ${label} shader (WebGL context lost?)`);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
    const log = gl.getShaderInfoLog(shader) ?? '';
    gl.deleteShader(shader);
    throw new Error(`DebugRenderer: the ${label} shader failed to compile: ${log.trim()}`);
  }
  return shader;
}

export function linkProgram(gl: WebGL2RenderingContext, name: ProgramName): LinkedProgram {
  const vs = compile(gl, gl.VERTEX_SHADER, vertexSource, 'fullscreen vertex');
  const fs = compile(gl, gl.FRAGMENT_SHADER, FRAGMENT_SOURCES[name], `${name} fragment`);
  const program = gl.createProgram();
  if (!program) throw new Error(`DebugRenderer: could not create the ${name} program (WebGL context lost?)`);
  gl.attachShader(program, vs);
  gl.attachShader(program, fs);
  gl.linkProgram(program);
  // The program keeps what it needs; the shader objects can go.
  gl.deleteShader(vs);
  gl.deleteShader(fs);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
    const log = gl.getProgramInfoLog(program) ?? '';
    gl.deleteProgram(program);
    throw new Error(`DebugRenderer: the ${name} program failed to link: ${log.trim()}`);
  }
  const locations = new Map<string, WebGLUniformLocation | null>();
  return {
    program,
    uniform(uniformName) {
      if (!locations.has(uniformName)) locations.set(uniformName, gl.getUniformLocation(program, uniformName));
      return locations.get(uniformName) ?? null;
    },
  };
}
