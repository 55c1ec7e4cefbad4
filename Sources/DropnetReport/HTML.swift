/// Escaping for text built into HTML: labels, movie names and paths may hold any Unicode,
/// `<`, `&` and quotes included, and must show as written.
enum HTML {
  /// `text` safe as element content and as a quoted attribute value.
  static func escape(_ text: String) -> String {
    var escaped = ""
    escaped.reserveCapacity(text.utf8.count)
    for character in text {
      switch character {
      case "&": escaped += "&amp;"
      case "<": escaped += "&lt;"
      case ">": escaped += "&gt;"
      case "\"": escaped += "&quot;"
      case "'": escaped += "&#39;"
      default: escaped.append(character)
      }
    }
    return escaped
  }

  /// A path as a relative URL reference: each component percent-encoded (so `#`, `?`, `%`
  /// and spaces in a name stay part of it), then escaped for an attribute.
  static func href(_ path: String) -> String {
    var allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~".utf8)
    allowed.insert(UInt8(ascii: "/"))
    var encoded = ""
    for byte in path.utf8 {
      if allowed.contains(byte) {
        encoded.append(Character(Unicode.Scalar(byte)))
      } else {
        encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
      }
    }
    return escape(encoded)
  }
}

extension String {
  fileprivate func leftPadded(to length: Int) -> String {
    count >= length ? self : String(repeating: "0", count: length - count) + self
  }
}
