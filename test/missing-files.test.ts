/** The Missing files dialog's grouping and hash check (renderer/src/graph/missing-files.ts). */
import { describe, expect, it } from 'vitest';
import type { MissingFile } from '../electron/engine/api.ts';
import { candidatesFor, describeHashCheck, fileNameOf, groupMissingFiles } from '../renderer/src/graph/missing-files.ts';
import { graph } from './helpers/engine.ts';

const miss = (nodeId: string, value: string, fileKind: MissingFile['fileKind'], param = fileKind === 'model' ? 'model' : 'path'): MissingFile => ({
  nodeId,
  nodeType: fileKind === 'model' ? 'LoadModel' : 'LoadImage',
  param,
  value,
  fileKind,
  message: `not found: ${value} (${nodeId})`,
});

describe('groupMissingFiles', () => {
  it('lists each file once with every node that reads it, in graph order, and the hash the graph recorded for a model', () => {
    const doc = graph([], []);
    doc.metadata.tags = ['sdxl', 'model-hash:sd-turbo=ABCDEF0123', 'model-hash:other=99'];
    const groups = groupMissingFiles([miss('a', 'sd-turbo', 'model'), miss('b', 'photo.png', 'image'), miss('c', 'sd-turbo', 'model'), miss('d', 'sd-turbo', 'latent')], doc);
    expect(groups.map((g) => [g.value, g.fileKind, g.uses.map((u) => u.nodeId), g.expectedSha256])).toEqual([
      ['sd-turbo', 'model', ['a', 'c'], 'ABCDEF0123'],
      ['photo.png', 'image', ['b'], undefined],
      ['sd-turbo', 'latent', ['d'], undefined],
    ]);
    expect(groups[0].message).toBe('not found: sd-turbo (a)');
    // A model given by a path is looked up by its folder's name, as Export PNG tags it.
    expect(groupMissingFiles([miss('a', '/models/sd-turbo/', 'model')], doc)[0].expectedSha256).toBe('ABCDEF0123');
    expect(fileNameOf('C:\\models\\sdxl')).toBe('sdxl');
  });

  it('says whether a located model is the one the graph was made with', () => {
    const group = { value: 'models/sd-turbo', expectedSha256: 'abcdef0123456789' };
    expect(describeHashCheck(group, { sha256: 'ABCDEF0123456789' })).toEqual({ ok: true, text: 'sd-turbo: the same model the graph was made with (sha256 matches)' });
    const other = describeHashCheck(group, { sha256: '0000111122223333' });
    expect(other.ok).toBe(false);
    expect(other.text).toBe('sd-turbo: not the model the graph was made with (sha256 000011112222… here, abcdef012345… in the graph); results may differ');
    expect(describeHashCheck(group, { error: 'not a model' })).toEqual({ ok: false, text: "Could not check sd-turbo against the graph's model: not a model" });
    expect(describeHashCheck({ value: 'x' }, { sha256: 'aa' })).toEqual({ ok: true, text: 'x located' });
  });
});

describe('candidatesFor', () => {
  const listed = (p: string) => ({ path: p, name: p.split('/').pop()!, root: '/r', size: 1, modified: '', isFolder: false });
  it('offers files of the missing one\'s name (any case, any folder), at most three, never the value itself', () => {
    const files = ['/r/a/Holiday.PNG', '/r/holiday.png.bak', '/r/b/holiday.png', '/r/c/holiday.png', '/r/d/holiday.png', '/r/e/other.png'].map(listed);
    expect(candidatesFor({ value: 'holiday.png' }, files).map((f) => f.path)).toEqual(['/r/a/Holiday.PNG', '/r/b/holiday.png', '/r/c/holiday.png']);
    expect(candidatesFor({ value: '/home/ann/pics/holiday.png' }, files.slice(2, 3)).map((f) => f.path)).toEqual(['/r/b/holiday.png']);
    expect(candidatesFor({ value: '/r/b/holiday.png' }, files.slice(2, 3))).toEqual([]);
    expect(candidatesFor({ value: 'sd-turbo' }, [listed('/r/models/sd-turbo'), listed('/r/models/sd-turbo-2')]).map((f) => f.path)).toEqual(['/r/models/sd-turbo']);
  });
});
