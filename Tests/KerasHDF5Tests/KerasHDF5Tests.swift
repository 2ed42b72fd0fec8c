import DeepLearning
import Foundation
import KerasHDF5
import Pix2Pix
import XCTest

/// The seed's Keras models saved as HDF5 by tf-keras (`model.save("….h5")`; fixtures of
/// Tools/keras/convert_keras_pix2pix.py --make-fixtures) read through libhdf5 give exactly the
/// tensors of the Python converter's safetensors, and the generator its Keras output.
final class KerasHDF5Tests: XCTestCase {
    private static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Pix2PixTests/Fixtures/keras")

    private func layers(_ file: String) throws -> [(name: String, weights: [Tensor])] {
        try KerasModelFile(contentsOf: Self.fixtures.appendingPathComponent(file)).layers.map {
            ($0.name, $0.weights.map(\.tensor))
        }
    }

    private func assertSameTensors(
        _ native: Module, _ converted: String, file: StaticString = #filePath, line: UInt = #line
    )
        throws
    {
        let reference = try SafeTensors.read(from: Self.fixtures.appendingPathComponent(converted)).tensors
        let ours = Dictionary(uniqueKeysWithValues: native.stateDictionary().map { ($0.name, $0.tensor) })
        XCTAssertEqual(Set(ours.keys), Set(reference.keys), file: file, line: line)
        for (name, tensor) in reference {
            XCTAssertEqual(ours[name]?.shape, tensor.shape, name, file: file, line: line)
            XCTAssertEqual(ours[name]?.scalars, tensor.scalars, "\(name) differs", file: file, line: line)
        }
    }

    func testTheSeedsGeneratorLoadsNativelyLikeThePythonConverter() throws {
        let generator = try UNetGenerator.fromKeras(try layers("generator.h5"), source: "generator.h5")
        XCTAssertEqual(generator.configuration, .init(depth: 8, baseFilters: 2))
        try assertSameTensors(generator, "generator.safetensors")
    }

    /// …and gives Keras's output (the converter's fixture: batch statistics, dropout off, on
    /// the converter script's `pattern()` input).
    func testTheNativelyLoadedGeneratorGivesKerassOutput() throws {
        let generator = try UNetGenerator.fromKeras(try layers("generator.h5"), source: "generator.h5")
        generator.setTraining(true)  // the seed's BatchNormalization(training=True)
        for dropout in generator.modules.compactMap({ $0 as? Dropout }) { dropout.isTraining = false }
        var values = [Float](repeating: 0, count: 256 * 256 * 3)
        for y in 0..<256 {
            for x in 0..<256 {
                for c in 0..<3 {
                    let a = 0.11 * Double(y) + 0.07 * Double(x) + 1.3 * Double(c)
                    values[(y * 256 + x) * 3 + c] = Float(sin(a) * cos(0.05 * Double(x) - 0.03 * Double(y)))
                }
            }
        }
        let output = withoutGradient { generator(Tensor(shape: [1, 256, 256, 3], scalars: values)) }
        let expected = try NPY.read(from: Self.fixtures.appendingPathComponent("generator_output.npy"))
        XCTAssertEqual(output.shape, expected.shape)
        let worst = zip(output.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, 1e-4, "max |Δ| \(worst)")
    }

    func testTheSeedsDiscriminatorLoadsNativelyLikeThePythonConverter() throws {
        let discriminator = try PatchDiscriminator.fromKeras(try layers("discriminator.h5"), source: "discriminator.h5")
        XCTAssertEqual(discriminator.configuration, .init(architecture: .patch(layers: 4), baseFilters: 2))
        try assertSameTensors(discriminator, "discriminator.safetensors")
    }

    /// Not HDF5, truncated, and an HDF5 file without Keras's layout: one-line errors naming it.
    func testBadFilesNameTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keras-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = try Data(contentsOf: Self.fixtures.appendingPathComponent("generator.h5"))
        let cases: [(String, Data?, String)] = [
            ("text.h5", Data("not hdf5".utf8), "not an HDF5 file"),
            ("truncated.h5", good.prefix(good.count / 2), "generator"),
            ("missing.h5", nil, "no such file"),
        ]
        for (name, data, message) in cases {
            let url = directory.appendingPathComponent(name)
            if let data { try data.write(to: url) }
            XCTAssertThrowsError(try KerasModelFile(contentsOf: url), name) { error in
                XCTAssertTrue("\(error)".contains(name), "\(name): \(error)")
                XCTAssertFalse("\(error)".contains("\n"), "\(name): one line")
                if name != "truncated.h5" { XCTAssertTrue("\(error)".contains(message), "\(name): \(error)") }
            }
        }
        let lying = Self.fixtures.appendingPathComponent("hostile_lying_shape.h5")
        XCTAssertThrowsError(try KerasModelFile(contentsOf: lying)) { error in
            XCTAssertTrue("\(error)".contains("hostile_lying_shape.h5"), "\(error)")
            XCTAssertTrue("\(error)".contains("needs more data than the"), "\(error)")
        }
        let npz = Self.fixtures.deletingLastPathComponent().appendingPathComponent("pytorch/resnet_batch.npz")
        XCTAssertThrowsError(try KerasModelFile(contentsOf: npz)) { error in
            XCTAssertTrue("\(error)".contains("not an HDF5 file"), "\(error)")
        }
    }
}
