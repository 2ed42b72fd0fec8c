import DeepLearning
import Foundation
import Imaging
import XCTest

final class ImageCodecsTests: XCTestCase {
    // Tiny fixtures written by PIL 11 (Image.fromarray(...).save) from
    // g = [[0, 64, 128], [192, 255, 32]] (2×3):
    // gray.png: mode L = g. rgba.png: R = g, G = 255 − g, B = 7, A = [[0,100,255],[255,0,50]].
    // palette.png: that RGB converted to mode P (adaptive, 6 colours).
    // gray16.png: mode I;16 = g·257 + [[0,100,200],[128,0,127]].
    static let grayPNG =
        "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAAAAAC4HznGAAAAEElEQVR4nGNkcHBgOPBfAQAHLgJhD+lRDQAAAABJRU5ErkJggg=="
    static let gray16PNG =
        "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACEAAAAADoj+WFAAAAFklEQVR4nGNkYHBY4riE4aDD//8K8wEeSwWJMhcibgAAAABJRU5ErkJggg=="
    static let palettePNG =
        "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACBAMAAABvWnspAAAAElBMVEUA/wcg3wdAvweAfwfAPwf/AAdFzkzzAAAADklEQVR4nGNk0mNwFQAAAWgAh00Q5FQAAAAASUVORK5CYII="
    static let rgbaPNG =
        "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAYAAACddGYaAAAAI0lEQVR4nGNk+M/O4HCAIcXhAMNshgP27P//M7AzKNxnNwIAbTAISu0Px3cAAAAASUVORK5CYII="
    static let g: [Float] = [0, 64, 128, 192, 255, 32]

    func decodeFixture(_ base64: String) throws -> Tensor {
        try decodeImage(Data(base64Encoded: base64)!, source: "fixture")
    }

    func testPNGRoundTripIsExact() throws {
        let image = randomPixels(5, 7, seed: 1)
        let data = try encodeImage(image, format: .png)
        XCTAssertEqual(ImageFormat(detecting: data), .png)
        let decoded = try decodeImage(data, source: "memory")
        XCTAssertEqual(decoded.shape, [5, 7, 3])
        XCTAssertEqual(decoded.scalars, image.scalars)
    }

    func testJPEGRoundTripAtQuality95IsClose() throws {
        // A smooth image: JPEG's error on it is small, unlike on noise.
        var scalars: [Float] = []
        for y in 0..<32 { for x in 0..<48 { scalars += [Float(x * 5), Float(y * 7), Float(128 + (x - y))] } }
        let image = Tensor(shape: [32, 48, 3], scalars: scalars)
        let data = try encodeImage(image, format: .jpeg, quality: 95)
        XCTAssertEqual(ImageFormat(detecting: data), .jpeg)
        let decoded = try decodeImage(data, source: "memory")
        XCTAssertEqual(decoded.shape, [32, 48, 3])
        let meanError = zip(decoded.scalars, scalars).map { abs($0 - $1) }.reduce(0, +) / Float(scalars.count)
        XCTAssertLessThan(decoded.maxAbsoluteDifference(to: image), 12)
        XCTAssertLessThan(meanError, 2)
        // Lower quality must cost accuracy, or the parameter is not reaching libjpeg.
        let rough = try decodeImage(try encodeImage(image, format: .jpeg, quality: 10), source: "memory")
        XCTAssertGreaterThan(rough.maxAbsoluteDifference(to: image), decoded.maxAbsoluteDifference(to: image))
    }

    func testGrayscaleEncodeDecodesToReplicatedRGB() throws {
        let gray = randomPixels(3, 4, 1, seed: 2)
        let decoded = try decodeImage(try encodeImage(gray, format: .png), source: "memory")
        XCTAssertEqual(decoded.shape, [3, 4, 3])
        XCTAssertEqual(decoded.scalars, gray.scalars.flatMap { [$0, $0, $0] })
        let jpeg = try decodeImage(try encodeImage(gray, format: .jpeg), source: "memory")
        XCTAssertEqual(jpeg.shape, [3, 4, 3])
    }

    func testFormatDetectionUsesMagicBytesNotExtension() throws {
        XCTAssertEqual(ImageFormat(detecting: Data([0xFF, 0xD8, 0xFF, 0xE0])), .jpeg)
        XCTAssertEqual(ImageFormat(detecting: Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0])), .png)
        XCTAssertNil(ImageFormat(detecting: Data("GIF89a".utf8)))
        XCTAssertNil(ImageFormat(detecting: Data([0x89, 0x50])))
        // A PNG named .jpg loads as the PNG it is.
        let directory = try makeTemporaryDirectory(self)
        let url = directory.appendingPathComponent("really-a-png.jpg")
        let image = randomPixels(2, 2, seed: 3)
        try encodeImage(image, format: .png).write(to: url)
        XCTAssertEqual(try loadImage(at: url).scalars, image.scalars)
    }

    func testGrayPNGBecomesRGB() throws {
        let image = try decodeFixture(Self.grayPNG)
        XCTAssertEqual(image.shape, [2, 3, 3])
        XCTAssertEqual(image.scalars, Self.g.flatMap { [$0, $0, $0] })
    }

    func testRGBAPNGDropsAlpha() throws {
        let image = try decodeFixture(Self.rgbaPNG)
        XCTAssertEqual(image.shape, [2, 3, 3])
        XCTAssertEqual(image.scalars, Self.g.flatMap { [$0, 255 - $0, 7] })
    }

    func testPalettePNGExpandsToRGB() throws {
        // Expected = np.array(Image.open("palette.png").convert("RGB")) from PIL.
        let image = try decodeFixture(Self.palettePNG)
        XCTAssertEqual(image.scalars, [0, 255, 7, 64, 191, 7, 128, 127, 7, 192, 63, 7, 255, 0, 7, 32, 223, 7])
    }

    func testSixteenBitPNGIsScaledTo8Bits() throws {
        // libpng's png_set_scale_16 rounds v·255/65535: 16548 → 64, 33096 → 129, 49472 → 192.
        let image = try decodeFixture(Self.gray16PNG)
        XCTAssertEqual(image.scalars, [0, 64, 129, 192, 255, 32].flatMap { [$0, $0, $0] })
    }

    func testSaveClampsRoundsAndWritesByExtension() throws {
        let directory = try makeTemporaryDirectory(self)
        let image = Tensor(shape: [1, 4, 1], scalars: [-5, 300, 127.5, .nan])
        let url = directory.appendingPathComponent("out.png")
        try saveImage(image, to: url)
        XCTAssertEqual(try loadImage(at: url).scalars, [0, 0, 0, 255, 255, 255, 128, 128, 128, 0, 0, 0])
        let jpegURL = directory.appendingPathComponent("out.JPEG")
        try saveImage(randomPixels(8, 8, seed: 4), to: jpegURL)
        XCTAssertEqual(ImageFormat(detecting: try Data(contentsOf: jpegURL)), .jpeg)
        // No temporary files are left next to the outputs.
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted(), ["out.JPEG", "out.png"])
        let bad = directory.appendingPathComponent("out.gif")
        assertImagingError(source: bad.path, mentioning: "extension") { try saveImage(image, to: bad) }
        let wrongShape = directory.appendingPathComponent("x.png")
        assertImagingError(source: wrongShape.path, mentioning: "[2, 2]") {
            try saveImage(Tensor.zeros([2, 2]), to: wrongShape)
        }
    }

    // MARK: - Corrupt and hostile inputs: each must throw an ImagingError naming the file.

    func load(_ bytes: Data, named name: String) throws -> (URL, () throws -> Void) {
        let url = try makeTemporaryDirectory(self).appendingPathComponent(name)
        try bytes.write(to: url)
        return (url, { _ = try loadImage(at: url) })
    }

    func testTruncatedJPEGThrows() throws {
        let full = try encodeImage(randomPixels(32, 32, seed: 5), format: .jpeg)
        let (url, body) = try load(full.prefix(full.count / 2), named: "cut.jpg")
        assertImagingError(source: url.path, mentioning: "invalid JPEG", body)
    }

    func testZeroLengthFileThrows() throws {
        let (url, body) = try load(Data(), named: "empty.png")
        assertImagingError(source: url.path, mentioning: "empty", body)
    }

    func testMissingFileThrows() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("absent.jpg")
        assertImagingError(source: url.path, mentioning: "cannot read") { _ = try loadImage(at: url) }
    }

    func testPNGWithWrongCRCThrows() throws {
        var bytes = [UInt8](try encodeImage(randomPixels(4, 4, seed: 6), format: .png))
        bytes[29] ^= 0xFF  // bytes 29...32 are the IHDR chunk's CRC
        let (url, body) = try load(Data(bytes), named: "crc.png")
        assertImagingError(source: url.path, mentioning: "CRC", body)
    }

    func testPNGSignatureFollowedByGarbageThrows() throws {
        var generator = SeededGenerator(seed: 7)
        let garbage =
            [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + (0..<200).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let (url, body) = try load(Data(garbage), named: "garbage.png")
        assertImagingError(source: url.path, mentioning: "invalid PNG", body)
    }

    func testTruncatedPNGThrows() throws {
        let full = try encodeImage(randomPixels(16, 16, seed: 8), format: .png)
        let (url, body) = try load(full.prefix(full.count - 40), named: "cut.png")
        assertImagingError(source: url.path, mentioning: "invalid PNG", body)
    }

    func testTextFileNamedJPGThrows() throws {
        let (url, body) = try load(Data("hello, world\n".utf8), named: "notes.jpg")
        assertImagingError(source: url.path, mentioning: "not a JPEG or PNG (starts with 68 65 6C 6C)", body)
    }

    func testPNGHeaderClaiming100000x100000IsRefusedBeforeAllocating() throws {
        // A valid signature and IHDR (with a correct CRC) for a 100000×100000 RGB image,
        // then a small IDAT: libpng reads the header up to the first IDAT, and the size
        // check must fire there, before the 30 GB of pixels would be allocated.
        let ihdr = Array("IHDR".utf8) + bigEndian(100_000) + bigEndian(100_000) + [8, 2, 0, 0, 0]
        let idat = Array("IDAT".utf8) + [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]
        let iend = Array("IEND".utf8)
        let bytes: [UInt8] =
            [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + bigEndian(13) + ihdr + bigEndian(crc32(ihdr))
            + bigEndian(8) + idat + bigEndian(crc32(idat))
            + bigEndian(0) + iend + bigEndian(crc32(iend))
        let (url, body) = try load(Data(bytes), named: "bomb.png")
        assertImagingError(source: url.path, mentioning: "100000×100000", body)
    }

    func testJPEGHeaderClaimingHugeSizeIsRefused() throws {
        // Patch the SOF0 frame header of a real JPEG to claim 60000×60000.
        var bytes = [UInt8](try encodeImage(randomPixels(8, 8, seed: 9), format: .jpeg))
        let sof = (0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 }!
        bytes.replaceSubrange((sof + 5)...(sof + 8), with: [0xEA, 0x60, 0xEA, 0x60])
        let (url, body) = try load(Data(bytes), named: "bomb.jpg")
        assertImagingError(source: url.path, mentioning: "60000×60000", body)
    }

    func testPixelLimitIsConfigurable() throws {
        let data = try encodeImage(randomPixels(10, 10, seed: 10), format: .png)
        assertImagingError(source: "small", mentioning: "limit of 99 pixels") {
            _ = try decodeImage(data, source: "small", maxPixels: 99)
        }
        XCTAssertEqual(try decodeImage(data, source: "small", maxPixels: 100).shape, [10, 10, 3])
    }
}
