import net from 'node:net';

/**
 * A loopback port nothing listens on: bound once by the OS, then released. For a server a test
 * starts itself (a Redis of its own), or for an address that must refuse connections.
 */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
