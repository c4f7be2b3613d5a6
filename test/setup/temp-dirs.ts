// Runs in every test file: after its own afterAll hooks (vitest runs after-hooks in stack order), the
// folders it made with tempDir go.
import { afterAll } from 'vitest';
import { removeTempDirs } from '../helpers/temp.ts';

afterAll(removeTempDirs);
