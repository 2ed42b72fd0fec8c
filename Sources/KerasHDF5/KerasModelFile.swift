import CHDF5
import DeepLearning
import Foundation

/// The weights of a Keras model saved as HDF5 — `model.save("model.h5")` (whole model, as the
/// seed's recipe saves `model_109600.h5`) or `model.save_weights("….h5")` — read through
/// Debian's libhdf5, without TensorFlow.
///
/// Only the weights are read: the `model_weights` group (or the root, for a weights-only
/// file), its `layer_names` attribute, each layer's `weight_names` and the float datasets they
/// name. The model's JSON configuration, training configuration and optimizer state are not
/// read, and nothing in the file is executed (a Keras `Lambda` layer's code is never touched).
public struct KerasModelFile {
    /// One layer with weights: its Keras name (`conv2d_3`, `batch_normalization_1`, …) and its
    /// weights in Keras's order (kernel, bias; or γ, β, moving mean, moving variance), in
    /// Keras's layouts (NHWC, HWIO kernels).
    public struct Layer {
        public let name: String
        public let weights: [(name: String, tensor: Tensor)]
    }

    /// The layers that have weights, in the file's order.
    public let layers: [Layer]

    /// Reads the weights of the Keras HDF5 file at `url`.
    ///
    /// - Throws: `SerializationError` naming the file for a missing, truncated or non-HDF5 file,
    ///   a file without Keras's weight layout, a dataset that is not floating point, or one whose
    ///   declared shape needs more bytes than the file could hold.
    public init(contentsOf url: URL) throws {
        let path = url.path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let fileSize = (attributes[.size] as? NSNumber)?.intValue
        else {
            throw SerializationError(path: path, "no such file")
        }
        dl_h5_silence()
        guard H5Fis_hdf5(path) > 0 else { throw SerializationError(path: path, "not an HDF5 file (or truncated)") }
        let file = H5Fopen(path, dl_h5_acc_rdonly(), dl_h5_p_default())
        guard file >= 0 else {
            throw SerializationError(path: path, "cannot open the HDF5 file (truncated or corrupt)")
        }
        defer { H5Fclose(file) }
        let root: hid_t
        if H5Lexists(file, "model_weights", dl_h5_p_default()) > 0 {
            root = H5Gopen2(file, "model_weights", dl_h5_p_default())
        } else {
            root = H5Gopen2(file, "/", dl_h5_p_default())
        }
        guard root >= 0 else { throw SerializationError(path: path, "cannot open the model_weights group") }
        defer { H5Gclose(root) }
        guard let layerNames = try Self.strings(attribute: "layer_names", of: root, source: path) else {
            throw SerializationError(
                path: path, "not a Keras model file: no layer_names attribute (in model_weights or at the root)")
        }
        var layers: [Layer] = []
        for layerName in layerNames {
            let group = H5Gopen2(root, layerName, dl_h5_p_default())
            guard group >= 0 else { throw SerializationError(path: path, "layer '\(layerName)' is listed but missing") }
            defer { H5Gclose(group) }
            let weightNames = try Self.strings(attribute: "weight_names", of: group, source: path) ?? []
            guard !weightNames.isEmpty else { continue }
            var weights: [(name: String, tensor: Tensor)] = []
            for weightName in weightNames {
                weights.append(
                    (
                        weightName,
                        try Self.dataset(
                            weightName, in: group, source: "\(path) ('\(layerName)/\(weightName)')", fileSize: fileSize)
                    ))
            }
            layers.append(Layer(name: layerName, weights: weights))
        }
        self.layers = layers
    }

    /// A string-array attribute (h5py writes Keras's names as fixed-length byte strings), or
    /// nil when the object has no such attribute.
    private static func strings(attribute name: String, of object: hid_t, source: String) throws -> [String]? {
        guard H5Aexists(object, name) > 0 else { return nil }
        let attribute = H5Aopen(object, name, dl_h5_p_default())
        guard attribute >= 0 else { throw SerializationError(path: source, "cannot open attribute \(name)") }
        defer { H5Aclose(attribute) }
        let type = H5Aget_type(attribute), space = H5Aget_space(attribute)
        defer {
            H5Tclose(type)
            H5Sclose(space)
        }
        let count = Int(H5Sget_simple_extent_npoints(space))
        if count == 0 { return [] }  // h5py writes an empty list as an empty float array
        guard H5Tget_class(type) == H5T_STRING, count > 0, count < 1 << 20 else {
            throw SerializationError(path: source, "attribute \(name) is not a list of names")
        }
        if H5Tis_variable_str(type) > 0 {
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            let memory = H5Tcopy(dl_h5_c_s1())
            defer { H5Tclose(memory) }
            H5Tset_size(memory, Int(bitPattern: UInt(bitPattern: -1)))  // H5T_VARIABLE
            guard H5Aread(attribute, memory, &pointers) >= 0 else {
                throw SerializationError(path: source, "cannot read attribute \(name)")
            }
            defer { for pointer in pointers { H5free_memory(pointer) } }
            return pointers.map { $0.map { String(cString: $0) } ?? "" }
        }
        let size = H5Tget_size(type)
        guard size > 0, size < 1 << 16 else {
            throw SerializationError(path: source, "attribute \(name) has odd strings")
        }
        var bytes = [UInt8](repeating: 0, count: count * size)
        guard H5Aread(attribute, type, &bytes) >= 0 else {
            throw SerializationError(path: source, "cannot read attribute \(name)")
        }
        return (0..<count).map { i in
            let slice = bytes[(i * size)..<((i + 1) * size)]
            return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// A floating-point dataset as float32, after checking that its declared size is one the
    /// file could hold (a lying header must not make us allocate terabytes).
    private static func dataset(_ name: String, in group: hid_t, source: String, fileSize: Int) throws -> Tensor {
        let dataset = H5Dopen2(group, name, dl_h5_p_default())
        guard dataset >= 0 else { throw SerializationError(path: source, "the dataset is missing") }
        defer { H5Dclose(dataset) }
        let type = H5Dget_type(dataset), space = H5Dget_space(dataset)
        defer {
            H5Tclose(type)
            H5Sclose(space)
        }
        guard H5Tget_class(type) == H5T_FLOAT else { throw SerializationError(path: source, "not floating point") }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0, rank <= 8 else { throw SerializationError(path: source, "rank \(rank)") }
        var dims = [hsize_t](repeating: 0, count: Swift.max(rank, 1))
        H5Sget_simple_extent_dims(space, &dims, nil)
        let shape = dims.prefix(rank).map { Int(clamping: $0) }
        // Compressed data expands at most ~1032:1 (deflate); anything claiming more is a lie.
        guard let bytes = checkedByteCount(shape: shape, itemSize: 4), bytes <= fileSize * 1_100 else {
            throw SerializationError(
                path: source, "declared shape \(shape) needs more data than the \(fileSize)-byte file can hold")
        }
        var values = [Float](repeating: 0, count: bytes / 4)
        guard H5Dread(dataset, dl_h5_native_float(), dl_h5_s_all(), dl_h5_s_all(), dl_h5_p_default(), &values) >= 0
        else {
            throw SerializationError(path: source, "cannot read the data (truncated or corrupt)")
        }
        return Tensor(shape: shape, scalars: values)
    }
}
