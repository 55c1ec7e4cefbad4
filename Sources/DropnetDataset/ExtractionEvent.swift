/// Progress of an extraction run, for a terminal progress line or structured logs.
public enum ExtractionEvent: Sendable {
  /// The drop folder was scanned: `pending` movies need decoding, `unchanged` do not.
  case scanned(movies: Int, pending: Int, unchanged: Int)
  /// An entry of the drop folder was not taken.
  case skipped(DropFolder.Skipped)
  /// A label problem; the movies under it are left out.
  case labelError(DatasetError)
  /// Decoding of a movie started (`position` of `total` pending).
  case movieStarted(path: String, position: Int, total: Int)
  /// Frames decoded so far in the current movie, and the header's claimed count (0 unknown).
  case decoding(path: String, decoded: Int, expected: Int)
  /// A movie was extracted and recorded.
  case movieExtracted(MovieRecord, seconds: Double)
  /// A movie failed; its earlier extraction, if any, stays.
  case movieFailed(path: String, error: DatasetError)
  /// A movie that vanished from the drop folder had its frames removed.
  case movieRemoved(path: String, label: Label)
  /// A movie whose bytes did not change (only its time stamp) was not decoded again.
  case movieTouched(path: String)
}
