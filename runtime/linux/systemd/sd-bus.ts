/**
 * The koffi binding of libsystemd's sd-bus: connect, call a method with typed arguments, read
 * a string answer, read a property. Only what the systemd cgroup driver needs. Nothing is
 * loaded until a bus is opened, so the cgroupfs driver and every other command never pay for
 * libsystemd.
 *
 * The connection: as root, systemd's private socket (/run/systemd/private) when it is there,
 * which needs no bus daemon, else the system bus (DBUS_SYSTEM_BUS_ADDRESS or the default).
 */
import fs from 'node:fs';
import { TsruncError } from '../../errors.js';
import { errnoName, ffi } from '../libc.js';
import { isDebugOn, logDebug } from '../../log.js';
import type { DbusValue } from './dbus-value.js';

const LIBSYSTEMD = 'libsystemd.so.0';
const SYSTEMD_PRIVATE_SOCKET = '/run/systemd/private';
/** Method calls wait this long for systemd's answer (the job itself is waited for elsewhere). */
const CALL_TIMEOUT_USEC = 30_000_000n;

type Pointer = unknown;
type Fn<A extends unknown[], R> = (...args: A) => R;

interface SdBusFunctions {
  openSystem: Fn<[Buffer], number>;
  newBus: Fn<[Buffer], number>;
  setAddress: Fn<[Pointer, string], number>;
  start: Fn<[Pointer], number>;
  flushCloseUnref: Fn<[Pointer], Pointer>;
  newMethodCall: Fn<[Pointer, Buffer, string | null, string, string, string], number>;
  appendBasic: Fn<[Pointer, number, Buffer], number>;
  appendArray: Fn<[Pointer, number, Buffer, number], number>;
  openContainer: Fn<[Pointer, number, string], number>;
  closeContainer: Fn<[Pointer], number>;
  call: Fn<[Pointer, Pointer, bigint, Buffer, Buffer], number>;
  readBasic: Fn<[Pointer, number, Buffer], number>;
  messageUnref: Fn<[Pointer], Pointer>;
  enterContainer: Fn<[Pointer, number, string], number>;
  errorFree: Fn<[Buffer], void>;
}

let functions: SdBusFunctions | undefined;

function sdBus(): SdBusFunctions {
  if (functions) return functions;
  const koffi = ffi();
  let handle: ReturnType<typeof koffi.load>;
  try {
    handle = koffi.load(LIBSYSTEMD);
  } catch (error) {
    throw new TsruncError(`--systemd-cgroup needs ${LIBSYSTEMD} (Debian package libsystemd0), which cannot be loaded: ${(error as Error).message}`);
  }
  const fn = <A extends unknown[], R>(prototype: string): Fn<A, R> => handle.func(prototype) as unknown as Fn<A, R>;
  functions = {
    openSystem: fn('int sd_bus_open_system(void *ret)'),
    newBus: fn('int sd_bus_new(void *ret)'),
    setAddress: fn('int sd_bus_set_address(void *bus, const char *address)'),
    start: fn('int sd_bus_start(void *bus)'),
    flushCloseUnref: fn('void *sd_bus_flush_close_unref(void *bus)'),
    newMethodCall: fn('int sd_bus_message_new_method_call(void *bus, void *ret, const char *destination, const char *path, const char *iface, const char *member)'),
    appendBasic: fn('int sd_bus_message_append_basic(void *m, char type, const void *p)'),
    appendArray: fn('int sd_bus_message_append_array(void *m, char type, const void *ptr, size_t size)'),
    openContainer: fn('int sd_bus_message_open_container(void *m, char type, const char *contents)'),
    closeContainer: fn('int sd_bus_message_close_container(void *m)'),
    call: fn('int sd_bus_call(void *bus, void *m, uint64_t usec, void *error, void *reply)'),
    readBasic: fn('int sd_bus_message_read_basic(void *m, char type, void *p)'),
    messageUnref: fn('void *sd_bus_message_unref(void *m)'),
    enterContainer: fn('int sd_bus_message_enter_container(void *m, char type, const char *contents)'),
    errorFree: fn('void sd_bus_error_free(void *error)'),
  };
  return functions;
}

const code = (type: string): number => type.charCodeAt(0);

/** A D-Bus error systemd answered with: its name ("org.freedesktop.systemd1.NoSuchUnit") and text. */
export class DbusCallError extends TsruncError {
  constructor(
    readonly call: string,
    readonly errorName: string,
    readonly text: string,
  ) {
    super(`systemd: ${call}: ${text} (${errorName})`);
  }
}

/** Reads the pointer at the start of `buffer` (an out-parameter sd-bus filled). */
function pointerIn(buffer: Buffer): Pointer {
  return ffi().decode(buffer, 'void *') as Pointer;
}

function stringIn(buffer: Buffer, offset = 0): string | null {
  return ffi().decode(buffer, offset, 'const char *') as string | null;
}

/** Fills a message with values, one call per value: the writer side of DbusValue. */
class MessageWriter {
  constructor(
    private readonly c: SdBusFunctions,
    private readonly message: Pointer,
    private readonly what: string,
  ) {}

  private check(rc: number, doing: string): void {
    if (rc < 0) throw new TsruncError(`systemd: ${this.what}: ${doing}: ${errnoName(-rc)}`);
  }

  basic(type: 's' | 'o' | 'b' | 'i' | 'u' | 'x' | 't' | 'd', value: string | number | bigint | boolean): void {
    let data: Buffer;
    switch (type) {
      case 's':
      case 'o':
        data = Buffer.from(`${String(value)}\0`);
        break;
      case 'b':
        data = Buffer.alloc(4);
        data.writeInt32LE(value ? 1 : 0);
        break;
      case 'i':
        data = Buffer.alloc(4);
        data.writeInt32LE(Number(value));
        break;
      case 'u':
        data = Buffer.alloc(4);
        data.writeUInt32LE(Number(value));
        break;
      case 'x':
        data = Buffer.alloc(8);
        data.writeBigInt64LE(BigInt(value));
        break;
      case 't':
        data = Buffer.alloc(8);
        data.writeBigUInt64LE(BigInt(value));
        break;
      case 'd':
        data = Buffer.alloc(8);
        data.writeDoubleLE(Number(value));
        break;
    }
    this.check(this.c.appendBasic(this.message, code(type), data), `appending ${type} ${String(value)}`);
  }

  container(type: 'a' | 'r' | 'v', contents: string, fill: () => void): void {
    this.check(this.c.openContainer(this.message, code(type), contents), `opening ${type}(${contents})`);
    fill();
    this.check(this.c.closeContainer(this.message), `closing ${type}(${contents})`);
  }

  /** One value, its signature being DbusValue's type. */
  value(value: DbusValue): void {
    switch (value.type) {
      case 'ay': {
        const bytes = Buffer.from(value.value);
        // An empty array still needs a valid pointer.
        this.check(this.c.appendArray(this.message, code('y'), bytes.length > 0 ? bytes : Buffer.alloc(1), bytes.length), 'appending ay');
        return;
      }
      case 'au':
        this.container('a', 'u', () => value.value.forEach((n) => this.basic('u', n)));
        return;
      case 'as':
        this.container('a', 's', () => value.value.forEach((s) => this.basic('s', s)));
        return;
      case 'a(ss)':
        this.container('a', '(ss)', () =>
          value.value.forEach(([a, b]) =>
            this.container('r', 'ss', () => {
              this.basic('s', a);
              this.basic('s', b);
            }),
          ),
        );
        return;
      default:
        this.basic(value.type, value.value);
    }
  }

  /** A variant holding `value`. */
  variant(value: DbusValue): void {
    this.container('v', value.type, () => this.value(value));
  }
}

export type { MessageWriter };

export interface MethodCall {
  destination: string;
  path: string;
  iface: string;
  member: string;
  /** Appends the arguments. */
  args?: (writer: MessageWriter) => void;
}

/** One connection to systemd (or any D-Bus peer), used synchronously and closed after the command. */
export class SdBus {
  private constructor(
    private readonly c: SdBusFunctions,
    private bus: Pointer,
    readonly address: string,
  ) {}

  /** The connection the driver uses: systemd's private socket as root, else the system bus. */
  static connect(): SdBus {
    const c = sdBus();
    const out = Buffer.alloc(8);
    if (process.geteuid?.() === 0 && fs.existsSync(SYSTEMD_PRIVATE_SOCKET) && process.env['DBUS_SYSTEM_BUS_ADDRESS'] === undefined) {
      const address = `unix:path=${SYSTEMD_PRIVATE_SOCKET}`;
      let rc = c.newBus(out);
      if (rc >= 0) {
        const bus = pointerIn(out);
        rc = c.setAddress(bus, address);
        if (rc >= 0) rc = c.start(bus);
        if (rc >= 0) return new SdBus(c, bus, address);
        c.flushCloseUnref(bus);
      }
      // systemd's private socket refused us: try the bus daemon below
    }
    const rc = c.openSystem(out);
    if (rc < 0) {
      throw new TsruncError(`systemd: connecting to the system bus: ${errnoName(-rc)} (is systemd running, with dbus?)`);
    }
    return new SdBus(c, pointerIn(out), process.env['DBUS_SYSTEM_BUS_ADDRESS'] ?? 'the system bus');
  }

  close(): void {
    if (this.bus !== null) this.c.flushCloseUnref(this.bus);
    this.bus = null;
  }

  /**
   * Calls a method and returns its reply's first string-like value (s or o), or undefined when
   * the reply has none. A D-Bus error becomes a DbusCallError with systemd's name and text.
   */
  call(method: MethodCall, reads?: 's' | 'o'): string | undefined {
    const what = `${method.member}`;
    const out = Buffer.alloc(8);
    let rc = this.c.newMethodCall(this.bus, out, method.destination, method.path, method.iface, method.member);
    if (rc < 0) throw new TsruncError(`systemd: ${what}: creating the call: ${errnoName(-rc)}`);
    const message = pointerIn(out);
    // struct sd_bus_error { const char *name; const char *message; int _need_free; }, zeroed = SD_BUS_ERROR_NULL.
    const error = Buffer.alloc(24);
    const replyOut = Buffer.alloc(8);
    try {
      method.args?.(new MessageWriter(this.c, message, what));
      const started = isDebugOn() ? process.hrtime.bigint() : 0n;
      rc = this.c.call(this.bus, message, CALL_TIMEOUT_USEC, error, replyOut);
      if (isDebugOn()) logDebug(`sd-bus: ${method.iface}.${method.member} on ${method.path} = ${rc} (${Number(process.hrtime.bigint() - started) / 1e6} ms)`);
      if (rc < 0) {
        const name = stringIn(error, 0);
        const text = stringIn(error, 8);
        this.c.errorFree(error);
        if (name) throw new DbusCallError(what, name, text ?? name);
        throw new TsruncError(`systemd: ${what}: ${errnoName(-rc)}`);
      }
      const reply = pointerIn(replyOut);
      try {
        if (!reads) return undefined;
        const value = Buffer.alloc(8);
        rc = this.c.readBasic(reply, code(reads), value);
        if (rc <= 0) return undefined;
        return stringIn(value) ?? undefined;
      } finally {
        this.c.messageUnref(reply);
      }
    } finally {
      this.c.messageUnref(message);
    }
  }

  /** org.freedesktop.DBus.Properties.Get of a string property. */
  getStringProperty(destination: string, objectPath: string, iface: string, property: string): string {
    const out = Buffer.alloc(8);
    let rc = this.c.newMethodCall(this.bus, out, destination, objectPath, 'org.freedesktop.DBus.Properties', 'Get');
    if (rc < 0) throw new TsruncError(`systemd: reading ${property}: ${errnoName(-rc)}`);
    const message = pointerIn(out);
    const error = Buffer.alloc(24);
    const replyOut = Buffer.alloc(8);
    try {
      const writer = new MessageWriter(this.c, message, `reading ${property}`);
      writer.basic('s', iface);
      writer.basic('s', property);
      rc = this.c.call(this.bus, message, CALL_TIMEOUT_USEC, error, replyOut);
      if (rc < 0) {
        const name = stringIn(error, 0);
        const text = stringIn(error, 8);
        this.c.errorFree(error);
        if (name) throw new DbusCallError(`reading ${property}`, name, text ?? name);
        throw new TsruncError(`systemd: reading ${property}: ${errnoName(-rc)}`);
      }
      const reply = pointerIn(replyOut);
      try {
        return readVariantString(this.c, reply, property);
      } finally {
        this.c.messageUnref(reply);
      }
    } finally {
      this.c.messageUnref(message);
    }
  }
}

/** The string inside the reply's variant ("v" holding "s"). */
function readVariantString(c: SdBusFunctions, reply: Pointer, property: string): string {
  const rc = c.enterContainer(reply, code('v'), 's');
  if (rc <= 0) throw new TsruncError(`systemd: ${property} is not a string property (${rc < 0 ? errnoName(-rc) : 'empty reply'})`);
  const value = Buffer.alloc(8);
  const read = c.readBasic(reply, code('s'), value);
  if (read <= 0) throw new TsruncError(`systemd: reading ${property}: ${read < 0 ? errnoName(-read) : 'no value'}`);
  return stringIn(value) ?? '';
}
