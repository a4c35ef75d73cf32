// The firmware detector under MicroPython's WebAssembly port, a 32-bit interpreter: its small ints are
// 31-bit, so any intermediate past +/-2^30 becomes a long int, which allocates and, with the heap locked
// by sim/replay_driver.py, raises MemoryError. The unix port's 63-bit ints cannot show that.
// It has no viper emitter (its compiler rejects the decorator), so the decorator lines become comments and
// feed() runs as bytecode, with ptr16() reading the driver's unsigned words.
//   node wasm32_driver.mjs PACKAGE_DIR REPO COUNTS_FILE RATE_MHZ COUNTS_PER_G
import fs from "fs";
import path from "path";
import { pathToFileURL } from "url";

const [pkg, repo, counts, rate, perG] = process.argv.slice(2);
const { loadMicroPython } = await import(pathToFileURL(path.join(pkg, "micropython.mjs")));
const mp = await loadMicroPython({ heapsize: 2 * 1024 * 1024, linebuffer: false,
                                   stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) });
for (const dir of ["firmware", "sim"]) {
  mp.FS.mkdir("/" + dir);
  for (const name of fs.readdirSync(path.join(repo, dir)).filter((n) => n.endsWith(".py"))) {
    const text = fs.readFileSync(path.join(repo, dir, name), "utf8");
    mp.FS.writeFile(`/${dir}/${name}`, text.replace(/^(\s*)@micropython\.(viper|native)$/gm, "$1# @micropython.$2"));
  }
}
mp.FS.writeFile("/counts.bin", fs.readFileSync(counts));
try {
  mp.runPython(`
import sys, micropython
class Emitters:
    pass
shim = Emitters()
shim.viper = lambda f: f
shim.native = shim.viper
shim.const = micropython.const
shim.heap_lock = micropython.heap_lock
shim.heap_unlock = micropython.heap_unlock
sys.modules["micropython"] = shim
import firmware.compat
firmware.compat.ptr16 = lambda buf: buf
firmware.compat.ptr32 = lambda buf: buf
sys.argv[:] = ["replay_driver.py", "/counts.bin", "${rate}", "${perG}", "locked"]
try:
    exec(open("/sim/replay_driver.py").read(), {"__name__": "__main__"})
except MemoryError:
    micropython.heap_unlock()  # this port hangs on an exception that leaves the heap locked
    raise
`);
} catch (error) {
  process.stderr.write(String(error.message || error) + "\n");
  process.exit(1);
}
