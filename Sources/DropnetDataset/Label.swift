import Foundation

/// A class label taken from a movie's file stem or its folder's name.
///
/// Labels become folder names under the state folder, so a label is checked to be path-safe:
/// it can never name a parent folder, contain a separator or NUL, start with a dot, or hold
/// control characters. Labels are compared in Unicode NFC so that the same word typed on
/// macOS (NFD) and Linux (NFC) is one label.
public struct Label: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
  /// The label in NFC.
  public let name: String

  /// Longest label, in UTF-8 bytes: file systems allow 255 per path component.
  public static let maximumByteCount = 200

  /// Checks `raw` and returns it as a label, or throws `DatasetError.invalidLabel` saying why.
  public init(validating raw: String) throws {
    let name = raw.precomposedStringWithCanonicalMapping
    func reject(_ reason: String) -> DatasetError {
      DatasetError(
        .invalidLabel,
        "label \(Label.quoted(raw)) \(reason); rename the movie or folder to a plain name such as thumbs_up"
      )
    }
    if name.isEmpty { throw reject("is empty") }
    if name == "." || name == ".." { throw reject("would name a parent folder") }
    if name.hasPrefix(".") { throw reject("starts with a dot (hidden)") }
    if name.contains("/") || name.contains("\\") { throw reject("contains a path separator") }
    if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
      throw reject("contains a control character")
    }
    if name.trimmingCharacters(in: .whitespaces) != name {
      throw reject("starts or ends with a space")
    }
    if name.utf8.count > Label.maximumByteCount {
      throw reject("is longer than \(Label.maximumByteCount) bytes")
    }
    self.name = name
  }

  /// The key under which two labels collide on a case-insensitive file system
  /// (and in a user's mind): case-folded NFC.
  public var collisionKey: String {
    name.folding(options: [.caseInsensitive], locale: nil).precomposedStringWithCanonicalMapping
  }

  public var description: String { name }
  public static func < (left: Label, right: Label) -> Bool { left.name < right.name }

  public init(from decoder: any Decoder) throws {
    try self.init(validating: try decoder.singleValueContainer().decode(String.self))
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(name)
  }

  /// `raw` quoted with invisible characters escaped, for messages.
  static func quoted(_ raw: String) -> String {
    "\""
      + raw.unicodeScalars.map { scalar in
        scalar.properties.generalCategory == .control || scalar == "\0"
          ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
      }.joined() + "\""
  }
}
