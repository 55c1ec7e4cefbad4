import DropnetArchitecture
import Foundation

/// The safetensors container: an 8-byte little-endian header length, a JSON header naming
/// each tensor's dtype, shape and byte range, then the raw little-endian tensor bytes.
///
///     [u64 LE headerLength][headerLength bytes of JSON, space-padded][data section]
///     header: {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
///              "__metadata__": {"key": "value", ...}}
///
/// Offsets are relative to the start of the data section. Only F32 is read or written.
struct SafetensorsFile: Equatable {
  /// Tensors by name.
  var tensors: [String: HostTensor]
  /// Free string-to-string metadata (the header's "__metadata__" object).
  var metadata: [String: String]

  /// The header key that holds metadata instead of a tensor.
  static let metadataKey = "__metadata__"
  /// Headers larger than this are refused before parsing; the reference implementation uses
  /// the same 100 MB bound, far above any real header (dropnet's are a few tens of KB).
  static let maximumHeaderLength = 100_000_000
  /// Bytes per F32 element.
  static let elementSize = MemoryLayout<Float>.size

  // MARK: - Encoding

  /// The file's bytes: tensors sorted by name, packed back to back with no gaps.
  func encoded() throws -> Data {
    var header: [String: HeaderEntry] = [:]
    var offset = 0
    let names = tensors.keys.sorted()
    for name in names {
      let byteCount = tensors[name]!.values.count * Self.elementSize
      header[name] = .tensor(
        TensorEntry(
          dtype: "F32", shape: tensors[name]!.shape, dataOffsets: [offset, offset + byteCount]))
      offset += byteCount
    }
    if !metadata.isEmpty { header[Self.metadataKey] = .metadata(metadata) }

    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var headerBytes = try encoder.encode(header)
    // Pad with spaces (valid JSON whitespace) so the data section starts 8-byte aligned,
    // which lets readers map the file and view the floats in place.
    while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }

    var file = Data(capacity: 8 + headerBytes.count + offset)
    withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { file.append(contentsOf: $0) }
    file.append(headerBytes)
    for name in names { Self.appendLittleEndian(tensors[name]!.values, to: &file) }
    return file
  }

  private static func appendLittleEndian(_ values: [Float], to file: inout Data) {
    #if _endian(little)
      values.withUnsafeBytes { file.append(contentsOf: $0) }
    #else
      for value in values {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { file.append(contentsOf: $0) }
      }
    #endif
  }

  // MARK: - Decoding

  /// Parses and validates `bytes`; `file` names the file in errors.
  init(decoding bytes: Data, file: String) throws {
    func fail(_ code: ModelError.Code, _ message: String) -> ModelError {
      ModelError(code: code, file: file, message: message)
    }
    let rewrite = "the file is damaged: write it again (or re-run the import that produced it)"

    guard bytes.count >= 8 else {
      throw fail(
        .truncated,
        "the file is \(bytes.count) bytes, shorter than the 8-byte header length every "
          + "safetensors file starts with; \(rewrite)")
    }
    let declaredHeaderLength = bytes.withUnsafeBytes {
      UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
    }
    guard declaredHeaderLength <= UInt64(Self.maximumHeaderLength) else {
      throw fail(
        .malformedHeader,
        "the header length field says \(declaredHeaderLength) bytes, more than the "
          + "\(Self.maximumHeaderLength) allowed: this is not a safetensors file or \(rewrite)")
    }
    let headerLength = Int(declaredHeaderLength)
    guard headerLength <= bytes.count - 8 else {
      throw fail(
        .truncated,
        "the header length field says \(headerLength) bytes but only \(bytes.count - 8) "
          + "follow; \(rewrite)")
    }
    let headerStart = bytes.startIndex + 8
    let dataStart = headerStart + headerLength
    let header: [String: HeaderEntry]
    do {
      header = try JSONDecoder().decode(
        [String: HeaderEntry].self, from: bytes[headerStart..<dataStart])
    } catch {
      throw fail(
        .malformedHeader,
        "the JSON header does not parse as a safetensors header (\(error)); \(rewrite)")
    }

    var metadata: [String: String] = [:]
    var entries: [(name: String, entry: TensorEntry)] = []
    for (name, value) in header {
      switch value {
      case .metadata(let values) where name == Self.metadataKey:
        metadata = values
      case .tensor(let entry) where name != Self.metadataKey:
        entries.append((name, entry))
      default:
        throw fail(
          .malformedHeader,
          "header entry \"\(name)\" is neither a tensor nor the \(Self.metadataKey) object; "
            + rewrite)
      }
    }

    let dataLength = bytes.count - 8 - headerLength
    // Sorting by start offset lets one pass find overlaps and gaps.
    entries.sort { ($0.entry.begin, $0.name) < ($1.entry.begin, $1.name) }
    var tensors: [String: HostTensor] = [:]
    var previousEnd = 0
    var previousName: String?
    for (name, entry) in entries {
      guard entry.dtype == "F32" else {
        throw fail(
          .unsupportedDataType,
          "tensor \"\(name)\" has dtype \(entry.dtype); dropnet reads only F32 checkpoints: "
            + "convert the tensor to float32 before loading")
      }
      guard entry.dataOffsets.count == 2, entry.begin >= 0, entry.begin <= entry.end,
        entry.end <= dataLength
      else {
        throw fail(
          .offsetsOutOfRange,
          "tensor \"\(name)\" has data_offsets \(entry.dataOffsets) but the data section is "
            + "\(dataLength) bytes; \(rewrite)")
      }
      guard entry.begin >= previousEnd else {
        throw fail(
          .overlappingTensors,
          "tensor \"\(name)\" starts at byte \(entry.begin), inside \"\(previousName ?? "")\" "
            + "which ends at \(previousEnd); \(rewrite)")
      }
      guard entry.begin == previousEnd else {
        throw fail(
          .overlappingTensors,
          "bytes \(previousEnd)..<\(entry.begin) of the data section belong to no tensor; "
            + rewrite)
      }
      guard let elementCount = Self.elementCount(entry.shape),
        elementCount * Self.elementSize == entry.end - entry.begin
      else {
        throw fail(
          .shapeMismatch,
          "tensor \"\(name)\" has shape \(entry.shape) but \(entry.end - entry.begin) bytes "
            + "of data (F32 needs 4 bytes per element); \(rewrite)")
      }
      let values = Self.readLittleEndian(
        bytes, from: dataStart + entry.begin, count: elementCount)
      tensors[name] = HostTensor(shape: entry.shape, values: values)
      previousEnd = entry.end
      previousName = name
    }
    guard previousEnd == dataLength else {
      throw fail(
        .overlappingTensors,
        "the last \(dataLength - previousEnd) bytes of the data section belong to no tensor; "
          + rewrite)
    }
    self.tensors = tensors
    self.metadata = metadata
  }

  /// Creates a file value directly.
  init(tensors: [String: HostTensor], metadata: [String: String]) {
    self.tensors = tensors
    self.metadata = metadata
  }

  /// The product of `shape`, or nil when a dimension is negative or the product overflows.
  static func elementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for dimension in shape {
      guard dimension >= 0 else { return nil }
      let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
      guard !overflow, product <= Int.max / elementSize else { return nil }
      count = product
    }
    return count
  }

  /// `count` little-endian F32 values of `bytes` starting at index `start`.
  static func readLittleEndian(_ bytes: Data, from start: Int, count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { buffer, initializedCount in
      bytes.withUnsafeBytes { raw in
        let base = start - bytes.startIndex
        #if _endian(little)
          UnsafeMutableRawBufferPointer(buffer).copyMemory(
            from: UnsafeRawBufferPointer(rebasing: raw[base..<base + count * elementSize]))
        #else
          for index in 0..<count {
            let bits = raw.loadUnaligned(
              fromByteOffset: base + index * elementSize, as: UInt32.self)
            buffer[index] = Float(bitPattern: UInt32(littleEndian: bits))
          }
        #endif
      }
      initializedCount = count
    }
  }
}

/// One tensor's entry in the JSON header.
private struct TensorEntry: Codable {
  var dtype: String
  var shape: [Int]
  var dataOffsets: [Int]

  var begin: Int { dataOffsets.first ?? 0 }
  var end: Int { dataOffsets.count > 1 ? dataOffsets[1] : 0 }

  enum CodingKeys: String, CodingKey {
    case dtype
    case shape
    case dataOffsets = "data_offsets"
  }
}

/// A value in the JSON header: a tensor entry or the metadata object.
private enum HeaderEntry: Codable {
  case tensor(TensorEntry)
  case metadata([String: String])

  init(from decoder: any Decoder) throws {
    let keyed = try? decoder.container(keyedBy: TensorEntry.CodingKeys.self)
    if let keyed, keyed.contains(.dtype) {
      self = .tensor(try TensorEntry(from: decoder))
    } else {
      self = .metadata(try [String: String](from: decoder))
    }
  }

  func encode(to encoder: any Encoder) throws {
    switch self {
    case .tensor(let entry): try entry.encode(to: encoder)
    case .metadata(let values): try values.encode(to: encoder)
    }
  }
}
