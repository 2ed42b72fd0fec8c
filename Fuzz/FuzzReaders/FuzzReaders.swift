// fuzz-readers: libFuzzer target for every reader of untrusted files — NPY, NPZ, safetensors,
// JPEG, PNG, PyTorch checkpoints (.pth) and Keras HDF5 files (.h5, through libhdf5). The first input byte picks the reader, the rest is the file.
//
// Fuzzing build (see Fuzz/run.sh):
//   swift build -c release --product fuzz-readers -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library -Xswiftc -DFUZZING
// Ordinary build: a replay tool — `fuzz-readers FILE…` runs each file through the readers, so
// crash inputs kept in Tests/…/Fuzz can be reproduced without the fuzzer.
import DeepLearning
import Foundation
import Imaging
import KerasHDF5

/// Runs one input through the reader its first byte selects; every failure must be a thrown error.
func readUntrusted(_ bytes: Data) {
    guard let selector = bytes.first else { return }
    let body = bytes.dropFirst()
    switch selector % 6 {
    case 0: _ = try? NPY.decode(Data(body), source: "fuzz.npy")
    case 1: _ = try? SafeTensors.decode(Data(body), source: "fuzz.safetensors")
    case 2: _ = try? decodeImage(Data(body), source: "fuzz.image", maxPixels: 1 << 22)
    case 3:
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(getpid()).npz")
        try? Data(body).write(to: url)
        _ = try? NPZ.read(from: url)
    case 4:
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(getpid()).pth")
        try? Data(body).write(to: url)
        _ = try? TorchCheckpoint.readStateDictionary(from: url)
    default:
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(getpid()).h5")
        try? Data(body).write(to: url)
        _ = try? KerasModelFile(contentsOf: url)
    }
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links executables with `main` aliased to `<module>_main`; hand control to libFuzzer.
@_cdecl("fuzz_readers_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { start, size in
        readUntrusted(start.map { Data(bytes: $0, count: size) } ?? Data())
        return 0
    }
}
#else
@main
struct Replay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write("fuzz-readers: cannot read \(path)\n".data(using: .utf8)!)
                exit(1)
            }
            readUntrusted(data)
            print("\(path): handled")
        }
    }
}
#endif
