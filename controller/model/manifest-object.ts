// A manifest object and where it came from: what every source of desired state (folder, git, cluster)
// hands to validation, so that every later error can name file, line and column.

export type FieldPath = ReadonlyArray<string | number>

/** Position of an object's document, and of any field in it. */
export interface SourceRef {
  file: string
  /** 0-based index of the document within its file. */
  document: number
  line: number
  column: number
  /** Line and column of a field; falls back to the nearest existing parent, then to the document. */
  locate(path: FieldPath): { line: number; column: number }
}

/** A YAML document that is a mapping, with where it came from. */
export interface ManifestObject {
  apiVersion: unknown
  kind: unknown
  /** The document as plain data (JSON-compatible). */
  body: Record<string, unknown>
  source: SourceRef
}

/** Where an object read from the Kubernetes API came from: no file, no position. */
export const clusterSource: SourceRef = { file: '', document: 0, line: 0, column: 0, locate: () => ({ line: 0, column: 0 }) }

/** Whether an object was read from a cluster (so a fix is a kubectl command, not a file edit). */
export const isClusterSource = (source: SourceRef): boolean => source === clusterSource
