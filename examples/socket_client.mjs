// Talk to signerd from JavaScript/TypeScript: one JSON-RPC request per line on its Unix socket.
//
//   node examples/socket_client.mjs [METHOD [PARAMS_JSON]]      (default: signerd_status)
//   SIGNERD_SOCKET=/path/to/signerd.sock node examples/socket_client.mjs signerd_listGrants '{"limit":5}'
//
// Prints the reply's result (or its error, exit 1). Progress notifications that arrive while a
// request waits for the person (signerd_progress) go to stderr. Integers beyond 2^53 - 1 (a
// grant's nonce, amounts in wei) arrive as decimal strings: read them with BigInt(value).
// No dependencies; the same code works in TypeScript (add types to taste).
import net from "node:net";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [method = "signerd_status", paramsJson = "{}"] = process.argv.slice(2);
const socketPath =
  process.env.SIGNERD_SOCKET ||
  path.join(process.env.XDG_RUNTIME_DIR || `/tmp/signerd-${os.userInfo().uid}`, "signerd", "signerd.sock");

// The Python client asks the kernel who serves the socket (SO_PEERCRED); node cannot. So, before
// sending anything, check what signerd's own directories are checked for: every directory on the
// way belongs to root or to the daemon's uid (yours unless SIGNERD_DAEMON_UID says) and no other
// user may rename its entries (not writable by group or others, or sticky like /tmp); the
// socket's own directory and the socket belong to the daemon's uid. Then connect to that checked
// path: nobody else can swap it between the check and the connection.
const daemonUid = Number(process.env.SIGNERD_DAEMON_UID || os.userInfo().uid);

function checkedSocketPath(given) {
  const refuse = (why) => {
    console.error(`${given}: ${why}: not sending anything`);
    process.exit(1);
  };
  let directory;
  try {
    directory = fs.realpathSync(path.dirname(path.resolve(given)));
  } catch (error) {
    refuse(`cannot reach signerd: ${error.message}`);
  }
  const parts = directory.split(path.sep).filter(Boolean);
  for (let depth = 0; depth <= parts.length; depth++) {
    const here = path.sep + parts.slice(0, depth).join(path.sep);
    const st = fs.lstatSync(here);
    const last = depth === parts.length;
    if (last ? st.uid !== daemonUid : st.uid !== 0 && st.uid !== daemonUid) {
      refuse(`${here} belongs to uid ${st.uid}: another user could replace the socket`);
    }
    if (st.mode & 0o022 && (last || !(st.mode & 0o1000))) {
      refuse(`${here} is writable by group or others: another user could replace the socket`);
    }
  }
  const socketFile = path.join(directory, path.basename(given));
  let st;
  try {
    st = fs.lstatSync(socketFile);
  } catch (error) {
    refuse(`cannot reach signerd: ${error.message}`);
  }
  if (!st.isSocket()) refuse(`${socketFile} is not a socket`);
  if (st.uid !== daemonUid) refuse(`${socketFile} belongs to uid ${st.uid}, not ${daemonUid}`);
  return socketFile;
}

const checkedPath = checkedSocketPath(socketPath);

const id = 1;
const socket = net.createConnection(checkedPath);
socket.setEncoding("utf8");
socket.on("connect", () => {
  socket.write(JSON.stringify({ jsonrpc: "2.0", id, method, params: JSON.parse(paramsJson) }) + "\n");
});

let buffer = "";
socket.on("data", (chunk) => {
  buffer += chunk;
  let newline;
  while ((newline = buffer.indexOf("\n")) >= 0) {
    const message = JSON.parse(buffer.slice(0, newline));
    buffer = buffer.slice(newline + 1);
    if (message.method === "signerd_progress") {
      console.error(`signerd: ${message.params.message}`);
    } else if (message.id === id) {
      socket.end();
      if (message.error) {
        console.error(JSON.stringify({ error: message.error }));
        process.exitCode = 1;
      } else {
        console.log(JSON.stringify(message.result, null, 2));
      }
    }
  }
});
socket.on("error", (error) => {
  console.error(`cannot reach signerd at ${socketPath}: ${error.message}`);
  process.exitCode = 1;
});
