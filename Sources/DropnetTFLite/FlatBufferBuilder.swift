import Foundation

/// Builds one FlatBuffer, back to front as the format is laid out: every object (string,
/// vector, table) is written before the objects that refer to it, and a reference is an
/// unsigned 32-bit offset forward from where it is stored. Scalars are little-endian and
/// aligned to their size; tables start with a signed offset back to their vtable (the byte
/// offset of each field from the table's start, 0 for an absent field).
///
/// Usage: make the strings, vectors and inner tables a table refers to, then `startTable()`,
/// `add` its fields by slot (the field's position in the schema, a union taking two: its type
/// then its value), `endTable()`; last `finish(root:identifier:)`.
struct FlatBufferBuilder {
  /// Where an object was written: its distance in bytes from the end of the buffer (stable
  /// while the buffer grows at the front).
  struct Offset: Equatable {
    fileprivate let distanceFromEnd: Int
  }

  /// The bytes, used from `head` to the end.
  private var storage: [UInt8]
  private var head: Int
  /// The largest alignment any value needed; the finished buffer's size is a multiple of it.
  private var minimumAlignment = 1
  /// The fields of the table being built (slot, where the field was written); nil outside.
  private var tableFields: [(slot: Int, offset: Int)]?
  private var tableStart = 0

  init(capacity: Int = 1024) {
    storage = [UInt8](repeating: 0, count: max(capacity, 16))
    head = storage.count
  }

  /// Bytes written so far.
  private var size: Int { storage.count - head }

  private mutating func reserve(_ count: Int) {
    guard head < count else { return }
    var capacity = storage.count
    while capacity - size < count { capacity *= 2 }
    var grown = [UInt8](repeating: 0, count: capacity)
    let used = size
    grown.withUnsafeMutableBufferPointer { target in
      storage.withUnsafeBufferPointer { source in
        (target.baseAddress! + (capacity - used)).update(
          from: source.baseAddress! + head, count: used)
      }
    }
    storage = grown
    head = capacity - used
  }

  /// Pads so that after `additional` more bytes, a value of `alignment` bytes is aligned.
  private mutating func prepare(_ alignment: Int, additional: Int) {
    minimumAlignment = max(minimumAlignment, alignment)
    let padding = (~(size + additional) + 1) & (alignment - 1)
    reserve(padding + additional + alignment)
    for _ in 0..<padding {
      head -= 1
      storage[head] = 0
    }
  }

  private mutating func push<T: FixedWidthInteger>(_ value: T) {
    reserve(MemoryLayout<T>.size)
    var remaining = value.littleEndian
    head -= MemoryLayout<T>.size
    withUnsafeBytes(of: &remaining) { bytes in
      for (index, byte) in bytes.enumerated() { storage[head + index] = byte }
    }
  }

  private mutating func pushBytes(_ bytes: Data) {
    guard !bytes.isEmpty else { return }
    reserve(bytes.count)
    head -= bytes.count
    let start = head
    storage.withUnsafeMutableBytes { target in
      bytes.withUnsafeBytes { source in
        target.baseAddress!.advanced(by: start).copyMemory(
          from: source.baseAddress!, byteCount: source.count)
      }
    }
  }

  /// Stores a reference to `target` at the front (aligned).
  private mutating func pushReference(_ target: Offset) {
    prepare(4, additional: 0)
    push(UInt32(size - target.distanceFromEnd + 4))
  }

  // MARK: Objects

  /// A string: its UTF-8 bytes, NUL-terminated, after a 32-bit length.
  mutating func string(_ text: String) -> Offset {
    let bytes = Data(text.utf8)
    prepare(4, additional: bytes.count + 1)
    push(UInt8(0))
    pushBytes(bytes)
    push(UInt32(bytes.count))
    return Offset(distanceFromEnd: size)
  }

  /// A vector of bytes whose first byte is aligned to `alignment` (a power of two).
  mutating func bytes(_ data: Data, alignment: Int = 1) -> Offset {
    prepare(4, additional: data.count)
    prepare(alignment, additional: data.count)
    pushBytes(data)
    push(UInt32(data.count))
    return Offset(distanceFromEnd: size)
  }

  /// A vector of integers.
  mutating func vector<T: FixedWidthInteger>(_ values: [T]) -> Offset {
    let width = MemoryLayout<T>.size
    prepare(4, additional: width * values.count)
    prepare(width, additional: width * values.count)
    for value in values.reversed() { push(value) }
    push(UInt32(values.count))
    return Offset(distanceFromEnd: size)
  }

  /// A vector of 32-bit floats.
  mutating func vector(_ values: [Float]) -> Offset {
    vector(values.map(\.bitPattern))
  }

  /// A vector of references (strings, tables).
  mutating func vector(_ offsets: [Offset]) -> Offset {
    prepare(4, additional: 4 * offsets.count)
    for offset in offsets.reversed() { pushReference(offset) }
    push(UInt32(offsets.count))
    return Offset(distanceFromEnd: size)
  }

  // MARK: Tables

  /// Starts a table; the objects its fields refer to must already be written.
  mutating func startTable() {
    precondition(tableFields == nil, "FlatBufferBuilder: tables cannot nest; build inner first")
    tableFields = []
    tableStart = size
  }

  /// A scalar field; a value equal to the schema's default is left out.
  mutating func add<T: FixedWidthInteger>(_ slot: Int, _ value: T, default defaultValue: T = 0) {
    guard value != defaultValue else { return }
    prepare(MemoryLayout<T>.size, additional: 0)
    push(value)
    tableFields!.append((slot, size))
  }

  /// A float field; a value equal to the schema's default is left out.
  mutating func add(_ slot: Int, _ value: Float, default defaultValue: Float = 0) {
    guard value != defaultValue else { return }
    prepare(4, additional: 0)
    push(value.bitPattern)
    tableFields!.append((slot, size))
  }

  /// A reference field (string, vector, table, union value).
  mutating func add(_ slot: Int, _ offset: Offset) {
    pushReference(offset)
    tableFields!.append((slot, size))
  }

  /// Ends the table with its vtable written just before it.
  mutating func endTable() -> Offset {
    guard let fields = tableFields else {
      preconditionFailure("FlatBufferBuilder: endTable without startTable")
    }
    prepare(4, additional: 0)
    push(Int32(0))  // the offset to the vtable, patched below
    let objectOffset = size
    var entries = [UInt16](repeating: 0, count: (fields.map(\.slot).max() ?? -1) + 1)
    for field in fields { entries[field.slot] = UInt16(objectOffset - field.offset) }
    for entry in entries.reversed() { push(entry) }
    push(UInt16(objectOffset - tableStart))
    push(UInt16(2 * (entries.count + 2)))
    let vtableOffset = size
    let patched = Int32(vtableOffset - objectOffset).littleEndian
    withUnsafeBytes(of: patched) { bytes in
      for (index, byte) in bytes.enumerated() {
        storage[storage.count - objectOffset + index] = byte
      }
    }
    tableFields = nil
    return Offset(distanceFromEnd: objectOffset)
  }

  /// The finished buffer: a reference to `root`, then the 4-character file `identifier`.
  mutating func finish(root: Offset, identifier: String) -> Data {
    let tag = Array(identifier.utf8)
    precondition(tag.count == 4, "FlatBufferBuilder: a file identifier has 4 bytes")
    prepare(minimumAlignment, additional: 8)
    for byte in tag.reversed() { push(byte) }
    pushReference(root)
    return Data(storage[head...])
  }
}
