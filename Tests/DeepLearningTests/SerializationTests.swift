import DeepLearning
import Foundation
import XCTest

private let expected = Tensor(shape: [2, 3, 4], scalars: (0..<24).map { Float($0) / 8 - 1 })

private func fixture(_ name: String) -> URL {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures/serialization/\(name)")
}

final class SerializationTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("serialization-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func file(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func testReadsNumPyWrittenFiles() throws {
        XCTAssertEqual(try NPY.read(from: fixture("f4.npy")).scalars, expected.scalars)
        XCTAssertEqual(try NPY.read(from: fixture("f8.npy")).scalars, expected.scalars)
        let fortran = try NPY.read(from: fixture("fortran.npy"))
        XCTAssertEqual(fortran.shape, [2, 3, 4])
        XCTAssertEqual(fortran.scalars, expected.scalars)
        XCTAssertEqual(try NPY.read(from: fixture("u1.npy")).scalars, [0, 1, 2, 3, 4, 5])
        let compressed = try NPZ.read(from: fixture("compressed.npz"))
        XCTAssertEqual(compressed["arr_0"]?.scalars, expected.scalars)
        XCTAssertEqual(compressed["arr_1"]?.scalars, expected.scalars.map { $0 * 2 })
        let stored = try NPZ.read(from: fixture("stored.npz"))
        XCTAssertEqual(stored["a"]?.scalars, expected.scalars)
        XCTAssertEqual(stored["b"]?.shape, [])
        XCTAssertEqual(stored["b"]?.scalar, 3.5)
        let (tensors, metadata) = try SafeTensors.read(from: fixture("reference.safetensors"))
        XCTAssertEqual(tensors["x"]?.scalars, expected.scalars)
        XCTAssertEqual(tensors["half"]?.scalars, expected.scalars)
        XCTAssertEqual(metadata, ["format": "pt"])
    }

    func testRoundTripsAreBitExact() throws {
        var generator = SeededGenerator(seed: 1)
        let random = Tensor.randomNormal([3, 5, 7], generator: &generator)
        let npy = directory.appendingPathComponent("a.npy")
        try NPY.write(random, to: npy)
        XCTAssertEqual(try NPY.read(from: npy).scalars, random.scalars)
        let npz = directory.appendingPathComponent("a.npz")
        for compressed in [true, false] {
            try NPZ.write([("arr_0", random), ("arr_1", expected), ("scalar", Tensor(2))], to: npz, compressed: compressed)
            let loaded = try NPZ.read(from: npz)
            XCTAssertEqual(loaded["arr_0"]?.scalars, random.scalars)
            XCTAssertEqual(loaded["arr_1"]?.shape, [2, 3, 4])
            XCTAssertEqual(loaded["scalar"]?.shape, [])
        }
        let st = directory.appendingPathComponent("a.safetensors")
        try SafeTensors.write([("random", random), ("empty", .zeros([0, 3]))], metadata: ["k": "v"], to: st)
        let (tensors, metadata) = try SafeTensors.read(from: st)
        XCTAssertEqual(tensors["random"]?.scalars, random.scalars)
        XCTAssertEqual(tensors["empty"]?.shape, [0, 3])
        XCTAssertEqual(metadata, ["k": "v"])
        // Files for the other direction, checked by Tools/fixtures/serialization_fixtures.py --check.
        if let export = ProcessInfo.processInfo.environment["SERIALIZATION_EXPORT_DIR"] {
            let out = URL(fileURLWithPath: export)
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            try NPY.write(expected, to: out.appendingPathComponent("swift.npy"))
            try NPZ.write([("arr_0", expected), ("arr_1", expected * 2)], to: out.appendingPathComponent("swift.npz"))
            try SafeTensors.write([("x", expected)], to: out.appendingPathComponent("swift.safetensors"))
        }
    }

    func testNPZReportsMissingArraysByName() throws {
        XCTAssertThrowsError(try NPZ.read(from: fixture("compressed.npz"), names: ["arr_0", "arr_7"])) { error in
            XCTAssertTrue("\(error)".contains("arr_7") && "\(error)".contains("compressed.npz"), "\(error)")
        }
    }

    func testCorruptFilesThrowErrorsNamingTheFile() throws {
        let good = NPY.encode(expected)
        var lyingShape = [UInt8](good)
        if let range = String(decoding: lyingShape, as: UTF8.self).range(of: "(2, 3, 4)") {
            let start = String(decoding: lyingShape, as: UTF8.self).utf8.distance(from: String(decoding: lyingShape, as: UTF8.self).utf8.startIndex, to: range.lowerBound)
            lyingShape.replaceSubrange(start..<(start + 9), with: Array("(9, 3, 4)".utf8))
        }
        var hugeShape = [UInt8](good)
        if let range = String(decoding: hugeShape, as: UTF8.self).range(of: "(2, 3, 4)") {
            let start = String(decoding: hugeShape, as: UTF8.self).utf8.distance(from: String(decoding: hugeShape, as: UTF8.self).utf8.startIndex, to: range.lowerBound)
            hugeShape.replaceSubrange(start..<(start + 9), with: Array("(99999999999, 99999)".utf8))
        }
        let npyCases: [(String, [UInt8])] = [
            ("empty.npy", []), ("truncated.npy", Array(good.prefix(40))), ("magic.npy", [0x89, 0x50, 0x4E, 0x47] + Array(good.dropFirst(4))),
            ("lying.npy", lyingShape), ("huge.npy", hugeShape), ("short-data.npy", Array(good.dropLast(4))),
        ]
        for (name, bytes) in npyCases {
            let url = try file(name, bytes)
            XCTAssertThrowsError(try NPY.read(from: url), name) { error in
                XCTAssertTrue("\(error)".contains(name), "\(name): \(error)")
            }
        }
        let st = try SafeTensors.encode([("x", expected)])
        func header(_ json: String) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: 8)
            withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { bytes = Array($0) }
            return bytes + Array(json.utf8) + [UInt8](repeating: 0, count: 96)
        }
        let safetensorCases: [(String, [UInt8])] = [
            ("empty.safetensors", []),
            ("truncated.safetensors", Array(st.prefix(st.count - 10))),
            ("length.safetensors", [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0] + Array(st.dropFirst(8))),
            ("json.safetensors", header("{not json")),
            ("dtype.safetensors", header(#"{"x":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}}"#)),
            ("outside.safetensors", header(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,800]}}"#)),
            ("span.safetensors", header(#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#)),
            ("overlap.safetensors", header(#"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"y":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#)),
            ("huge.safetensors", header(#"{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}"#)),
            ("negative.safetensors", header(#"{"x":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}"#)),
        ]
        for (name, bytes) in safetensorCases {
            let url = try file(name, bytes)
            XCTAssertThrowsError(try SafeTensors.read(from: url), name) { error in
                XCTAssertTrue("\(error)".contains(name), "\(name): \(error)")
            }
        }
        for (name, bytes) in [("garbage.npz", Array("hello".utf8)), ("truncated.npz", Array(try Data(contentsOf: fixture("compressed.npz")).prefix(100)))] {
            let url = try file(name, bytes)
            XCTAssertThrowsError(try NPZ.read(from: url), name) { error in
                XCTAssertTrue("\(error)".contains(name), "\(name): \(error)")
            }
        }
        XCTAssertThrowsError(try NPY.read(from: directory.appendingPathComponent("missing.npy"))) { error in
            XCTAssertTrue("\(error)".contains("missing.npy: no such file"), "\(error)")
        }
    }

    func testAtomicWriteReplacesOrLeavesTheOldFile() throws {
        let url = directory.appendingPathComponent("state.bin")
        try writeAtomically(Data([1, 2, 3]), to: url)
        try writeAtomically(Data([4, 5]), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data([4, 5]))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [])
        let unwritable = directory.appendingPathComponent("no-such-dir/state.bin")
        XCTAssertThrowsError(try writeAtomically(Data([9]), to: unwritable))
        XCTAssertEqual(try Data(contentsOf: url), Data([4, 5]))
    }
}

private final class Block: Module {
    let weight = Parameter(Tensor([1, 2, 3]))
    let stats = Buffer(Tensor([0.5]))
}

private final class Model: Module {
    let blocks = [Block(), Block()]
    let head: Block? = Block()
    let absent: Block? = nil
    let scale = Parameter(Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]))
}

final class CheckpointTests: XCTestCase {
    func testSaveLoadRoundTripsParametersAndBuffersByPropertyPath() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("model-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let a = Model()
        a.blocks[1].weight.value = Tensor([7, 8, 9])
        a.head!.stats.value = Tensor([42])
        XCTAssertEqual(a.stateDictionary().map(\.name),
                       ["blocks.0.weight", "blocks.1.weight", "head.weight", "scale", "blocks.0.stats", "blocks.1.stats", "head.stats"])
        try a.save(to: url, metadata: ["epoch": "3"])
        let b = Model()
        XCTAssertEqual(try b.load(from: url)["epoch"], "3")
        XCTAssertEqual(b.blocks[1].weight.value.scalars, [7, 8, 9])
        XCTAssertEqual(b.head!.stats.value.scalars, [42])
    }

    func testMismatchedCheckpointsNameTheTensorAndChangeNothing() throws {
        let model = Model()
        var tensors = Dictionary(uniqueKeysWithValues: model.stateDictionary().map { ($0.name, $0.tensor) })
        tensors["scale"] = .zeros([3])
        tensors["blocks.0.weight"] = Tensor([5, 5, 5])
        XCTAssertThrowsError(try model.loadStateDictionary(tensors)) { error in
            XCTAssertTrue("\(error)".contains("scale") && "\(error)".contains("[3]"), "\(error)")
        }
        XCTAssertEqual(model.blocks[0].weight.value.scalars, [1, 2, 3])
        tensors["scale"] = nil
        XCTAssertThrowsError(try model.loadStateDictionary(tensors)) { XCTAssertTrue("\($0)".contains("missing tensors: scale")) }
        tensors["scale"] = .zeros([2, 2])
        tensors["extra"] = .zeros([1])
        XCTAssertThrowsError(try model.loadStateDictionary(tensors)) { XCTAssertTrue("\($0)".contains("unexpected tensors: extra")) }
        XCTAssertNoThrow(try model.loadStateDictionary(tensors, strict: false))
    }
}
