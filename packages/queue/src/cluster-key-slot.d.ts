// Types for `cluster-key-slot` (ioredis' own slot function; the package ships none).
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0-16383) of a key, honouring its `{hash tag}`. */
  function calculateSlot(key: string | Buffer): number;
  export = calculateSlot;
}
