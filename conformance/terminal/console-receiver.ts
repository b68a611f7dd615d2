/**
 * The manager's side of --console-socket, for tests: a unix socket that receives the pty
 * master (SCM_RIGHTS), optionally types into it, and reads it until the container's side
 * closes. Node cannot receive fds, so this is a small python3 program (a host tool).
 */
import { spawn } from 'node:child_process';

const RECEIVER = `
import json, os, socket, sys
path, typed = sys.argv[1], sys.argv[2]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(1)
print('listening', flush=True)
conn, _ = server.accept()
message, fds, _, _ = socket.recv_fds(conn, 4096, 4)
master = fds[0]
if typed:
    os.write(master, typed.encode())
output = b''
while True:
    try:
        data = os.read(master, 4096)
    except OSError:
        break  # EIO: every slave fd is closed, the container has exited
    if not data:
        break
    output += data
print(json.dumps({'message': message.decode(), 'fds': len(fds), 'output': output.decode(errors='replace')}), flush=True)
`;

export interface Received {
  /** The data that came with the fd ("/dev/ptmx", as runc sends). */
  message: string;
  fds: number;
  /** Everything read from the master; the tty turns "\n" into "\r\n". */
  output: string;
}

export interface ConsoleReceiver {
  /** Resolves with what was received once the container closed its side (or the timeout). */
  done: Promise<Received>;
  stop(): void;
}

/** Starts the receiver on `socketPath` and resolves once it listens. */
export function listenForConsole(socketPath: string, typed = '', timeoutMs = 20_000): Promise<ConsoleReceiver> {
  const child = spawn('python3', ['-c', RECEIVER, socketPath, typed], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolveListening, rejectListening) => {
    const done = new Promise<Received>((resolve, reject) => {
      child.on('close', (code) => {
        clearTimeout(timer);
        const line = stdout.split('\n').find((l) => l.startsWith('{'));
        if (code === 0 && line) resolve(JSON.parse(line) as Received);
        else reject(new Error(`console receiver exited with ${code}: ${stderr}`));
      });
    });
    done.catch(() => undefined);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.startsWith('listening\n')) resolveListening({ done, stop: () => child.kill('SIGKILL') });
    });
    child.on('error', rejectListening);
    child.on('close', () => rejectListening(new Error(`console receiver did not start: ${stderr}`)));
  });
}
