// Plain Node ESM, no loader: every library (and every subpath it exports) loads from
// its installed package and exports something. Prints one JSON line: name -> export count.
const names = process.argv.slice(2);
const counts = {};
for (const name of names) {
  const mod = await import(name);
  counts[name] = Object.keys(mod).length;
  if (counts[name] === 0) throw new Error(`${name} exports nothing`);
}
console.log(JSON.stringify(counts));
