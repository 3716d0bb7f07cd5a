// `npx nx g @gaze/create-head:head <name>`: writes packages/heads/<name> from ./files, adds it to
// the root tsconfig's references, then runs npm install so the workspace links @gaze/head-<name>
// (the runner imports a head by that package name; nothing else needs an edit).
const path = require('node:path');
const { generateFiles, names, updateJson, installPackagesTask } = require('@nx/devkit');

/** @param {import('@nx/devkit').Tree} tree @param {{ name: string; skipInstall?: boolean }} options */
module.exports = async function headGenerator(tree, options) {
  const name = String(options.name ?? '');
  if (!/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new Error(`head name '${name}' must be lower case letters, digits and dashes, starting with a letter (e.g. my-head)`);
  }
  const root = `packages/heads/${name}`;
  if (tree.exists(root)) throw new Error(`${root} already exists: pick another name, or remove it first`);
  const n = names(name);
  generateFiles(tree, path.join(__dirname, 'files'), root, { ...n, name, tmpl: '' });
  if (tree.exists('tsconfig.json')) {
    updateJson(tree, 'tsconfig.json', (json) => {
      json.references = json.references ?? [];
      if (!json.references.some((r) => r.path === `./${root}`)) json.references.push({ path: `./${root}` });
      return json;
    });
  }
  return () => {
    if (!options.skipInstall) installPackagesTask(tree, true);
  };
};
