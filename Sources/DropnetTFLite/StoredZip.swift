import Foundation

/// A ZIP archive of uncompressed ("stored") files, written to follow other bytes: TFLite
/// model metadata packs its associated files (the label file) into a ZIP appended to the
/// model. Offsets in the archive count from the start of the whole file (`precedingBytes`
/// before the archive), so readers find every entry whether they take offsets as absolute or
/// relative to the central directory.
enum StoredZip {
  /// The archive of `files` (name, contents), in order, for appending after
  /// `precedingBytes` bytes.
  static func archive(_ files: [(name: String, contents: Data)], precedingBytes: Int) -> Data {
    var archive = Data()
    var central = Data()
    // 1980-01-01 00:00, the earliest ZIP date: the bytes do not depend on when they were made.
    let time: UInt16 = 0
    let date: UInt16 = (0 << 9) | (1 << 5) | 1
    for file in files {
      let name = Data(file.name.utf8)
      let crc = crc32(file.contents)
      let localOffset = UInt32(precedingBytes + archive.count)
      // Bit 11: the name is UTF-8.
      let flags: UInt16 = 1 << 11
      archive.append(le: UInt32(0x0403_4b50))
      archive.append(le: UInt16(10))  // version needed: stored entries
      archive.append(le: flags)
      archive.append(le: UInt16(0))  // method: stored
      archive.append(le: time)
      archive.append(le: date)
      archive.append(le: crc)
      archive.append(le: UInt32(file.contents.count))
      archive.append(le: UInt32(file.contents.count))
      archive.append(le: UInt16(name.count))
      archive.append(le: UInt16(0))  // extra field length
      archive.append(name)
      archive.append(file.contents)

      central.append(le: UInt32(0x0201_4b50))
      central.append(le: UInt16(20))  // made by: MS-DOS, ZIP 2.0
      central.append(le: UInt16(10))
      central.append(le: flags)
      central.append(le: UInt16(0))
      central.append(le: time)
      central.append(le: date)
      central.append(le: crc)
      central.append(le: UInt32(file.contents.count))
      central.append(le: UInt32(file.contents.count))
      central.append(le: UInt16(name.count))
      central.append(le: UInt16(0))  // extra field length
      central.append(le: UInt16(0))  // comment length
      central.append(le: UInt16(0))  // disk number
      central.append(le: UInt16(0))  // internal attributes
      central.append(le: UInt32(0))  // external attributes
      central.append(le: localOffset)
      central.append(name)
    }
    let centralOffset = UInt32(precedingBytes + archive.count)
    archive.append(central)
    archive.append(le: UInt32(0x0605_4b50))
    archive.append(le: UInt16(0))  // this disk
    archive.append(le: UInt16(0))  // disk with the central directory
    archive.append(le: UInt16(files.count))
    archive.append(le: UInt16(files.count))
    archive.append(le: UInt32(central.count))
    archive.append(le: centralOffset)
    archive.append(le: UInt16(0))  // comment length
    return archive
  }

  /// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as ZIP stores it.
  static func crc32(_ data: Data) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data {
      crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
    }
    return ~crc
  }

  private static let table: [UInt32] = (0..<256).map { index in
    var value = UInt32(index)
    for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
    return value
  }
}

extension Data {
  /// Appends `value` little-endian.
  fileprivate mutating func append<T: FixedWidthInteger>(le value: T) {
    Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
  }
}
