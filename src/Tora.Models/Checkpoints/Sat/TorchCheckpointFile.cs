using System.Collections;
using Razorvine.Pickle;
using Razorvine.Pickle.Objects;
using Tora.Models.Graph;

namespace Tora.Models.Checkpoints.Sat;

/// <summary>One tensor of a torch checkpoint: a contiguous range of a storage member.</summary>
/// <param name="Name">State-dict name.</param>
/// <param name="DType">safetensors-style dtype (F32, BF16, F16, F64, I64, I32, I16, I8, U8, BOOL).</param>
/// <param name="Shape">Shape (empty for a scalar).</param>
/// <param name="Storage">The storage member holding the values.</param>
/// <param name="StorageKey">The storage's key (several tensors may share one).</param>
/// <param name="ElementOffset">Offset of element 0 in the storage, in elements.</param>
public sealed record TorchTensor(string Name, string DType, long[] Shape, TorchZipEntry Storage, string StorageKey, long ElementOffset)
{
    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The element type, or null for dtypes the compiler does not read (F64, BOOL, ...).</summary>
    public ElementType? ElementType => CheckpointDType.ElementTypeOf(DType);
}

/// <summary>
/// A <c>torch.save</c> zip checkpoint (SAT/DeepSpeed <c>mp_rank_00_model_states.pt</c>, <c>3d-vae.pt</c>) opened
/// without Python: the pickle is first scanned for globals and refused if it names any outside
/// <see cref="AllowedGlobals"/> (a checkpoint must never run code), then unpickled with Razorvine.Pickle,
/// storages resolved through <c>persistent_load</c> to zip members. Tensor values stay in the memory-mapped
/// file until a graph builder reads them.
/// </summary>
public sealed class TorchCheckpointFile : IDisposable
{
    /// <summary>Element size of each torch storage type (the only classes allowed inside a persistent id).</summary>
    private static readonly Dictionary<string, (string DType, int Size)> StorageTypes = new(StringComparer.Ordinal)
    {
        ["FloatStorage"] = ("F32", 4), ["BFloat16Storage"] = ("BF16", 2), ["HalfStorage"] = ("F16", 2), ["DoubleStorage"] = ("F64", 8),
        ["LongStorage"] = ("I64", 8), ["IntStorage"] = ("I32", 4), ["ShortStorage"] = ("I16", 2), ["CharStorage"] = ("I8", 1),
        ["ByteStorage"] = ("U8", 1), ["BoolStorage"] = ("BOOL", 1),
    };

    /// <summary>
    /// The globals a state dict needs: the tensor rebuild function, the state dict's <c>OrderedDict</c>,
    /// <c>torch.Size</c> (a plain tuple, in DeepSpeed's <c>param_shapes</c>), and the storage types (named inside
    /// persistent ids, never called). Notably not <c>torch.storage._load_from_bytes</c> (an inner torch.load).
    /// </summary>
    public static IReadOnlySet<string> AllowedGlobals { get; } = new HashSet<string>(
        new[] { "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.Size" }.Concat(StorageTypes.Keys.Select(k => "torch." + k)),
        StringComparer.Ordinal);

    /// <summary>Top-level keys that hold the state dict, in the order the original loaders try them.</summary>
    private static readonly string[] StateDictKeys = ["module", "model", "state_dict"];

    static TorchCheckpointFile()
    {
        // Razorvine's constructor registry is process-wide; these are the only constructors the allow-list
        // lets through (storage types arrive as ClassDictConstructor inside persistent ids).
        Unpickler.registerConstructor("collections", "OrderedDict", new OrderedDictConstructor());
        Unpickler.registerConstructor("torch._utils", "_rebuild_tensor_v2", new RebuildTensorConstructor());
        Unpickler.registerConstructor("torch", "Size", new SizeConstructor());
    }

    private readonly TorchZipArchive _zip;

    private TorchCheckpointFile(TorchZipArchive zip, string key, Dictionary<string, TorchTensor> tensors)
    {
        _zip = zip;
        StateDictKey = key;
        Tensors = tensors;
    }

    /// <summary>The file.</summary>
    public string Path => _zip.Path;

    /// <summary>The container.</summary>
    public TorchZipArchive Archive => _zip;

    /// <summary>The top-level key the state dict was under (<c>module</c> for SAT, <c>state_dict</c> for the VAE).</summary>
    public string StateDictKey { get; }

    /// <summary>The state dict's tensors by name.</summary>
    public IReadOnlyDictionary<string, TorchTensor> Tensors { get; }

    /// <summary>Opens a checkpoint and reads its state dict's tensor index.</summary>
    /// <exception cref="InvalidDataException">Not a torch zip checkpoint, truncated, a forbidden pickle global, no state dict, or a tensor outside its storage or non-contiguous.</exception>
    public static TorchCheckpointFile Open(string path)
    {
        var zip = TorchZipArchive.Open(path);
        try
        {
            var pkl = zip.Find("data.pkl")!;
            if (pkl.Length > int.MaxValue) throw new InvalidDataException($"{path}: data.pkl is over 2 GB");
            var bytes = zip.Bytes(pkl, 0, (int)pkl.Length).ToArray();
            IReadOnlyList<string> globals;
            try
            {
                globals = PickleGlobalScanner.Globals(bytes);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{path}: {e.Message}");
            }
            var forbidden = globals.Where(g => !AllowedGlobals.Contains(g)).ToList();
            if (forbidden.Count > 0)
                throw new InvalidDataException($"{path}: refusing pickle global '{forbidden[0]}' (a state dict needs only {string.Join(", ", AllowedGlobals.Order(StringComparer.Ordinal).Take(3))} and torch storage types)");

            object root;
            try
            {
                using var unpickler = new StorageUnpickler(zip, path);
                root = unpickler.loads(bytes);
            }
            catch (Exception e) when (e is PickleException or InvalidCastException or InvalidOperationException or ArgumentException or IndexOutOfRangeException or FormatException or OverflowException)
            {
                throw new InvalidDataException($"{path}: cannot read the pickle ({e.Message})");
            }
            if (root is not IDictionary top) throw new InvalidDataException($"{path}: the pickle is a {Describe(root)}, not a dict");
            var key = StateDictKeys.FirstOrDefault(top.Contains);
            IDictionary stateDict = key is null ? top : top[key] as IDictionary
                ?? throw new InvalidDataException($"{path}: '{key}' is a {Describe(top[key])}, not a state dict");
            var tensors = new Dictionary<string, TorchTensor>(StringComparer.Ordinal);
            foreach (DictionaryEntry item in stateDict)
            {
                if (item.Key is not string name) throw new InvalidDataException($"{path}: state-dict key {item.Key} is not a string");
                if (item.Value is not TensorRecord r)
                    throw new InvalidDataException($"{path}: state-dict entry '{name}' is a {Describe(item.Value)}, not a tensor" + (key is null ? " (no 'module', 'model' or 'state_dict' key)" : ""));
                tensors[name] = r.Resolve(name, path);
            }
            return new TorchCheckpointFile(zip, key ?? "", tensors);
        }
        catch
        {
            zip.Dispose();
            throw;
        }
    }

    /// <summary>The float values of a tensor range (in elements, relative to the tensor's first element).</summary>
    public void ReadFloats(TorchTensor tensor, long elementStart, Span<float> destination)
    {
        var type = tensor.ElementType is { } t && t.IsFloat() ? t : throw new CheckpointException($"{Path}: tensor '{tensor.Name}' has dtype {tensor.DType}, expected F32, F16 or BF16");
        int size = type.Size();
        const int chunk = 1 << 20;
        long byteStart = (tensor.ElementOffset + elementStart) * size;
        for (int i = 0; i < destination.Length; i += chunk)
        {
            int len = Math.Min(chunk, destination.Length - i);
            ElementTypes.DecodeToFloat(_zip.Bytes(tensor.Storage, byteStart + (long)i * size, len * size), type, destination.Slice(i, len));
        }
        _zip.Release(tensor.Storage, byteStart, (long)destination.Length * size);
    }

    /// <inheritdoc />
    public void Dispose() => _zip.Dispose();

    private static string Describe(object? o) => o switch
    {
        null => "None",
        ClassDict cd => $"'{cd.ClassName}' object",
        ClassDictConstructor c => $"'{c.module}.{c.name}'",
        _ => o.GetType().Name,
    };

    /// <summary>A storage named by a persistent id: <c>('storage', torch.&lt;T&gt;Storage, key, location, numel)</c>.</summary>
    private sealed record StorageRef(string Key, string DType, int ElementSize, long Numel, TorchZipEntry Entry);

    /// <summary>What <c>_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)</c> returns here.</summary>
    private sealed record TensorRecord(StorageRef Storage, long Offset, long[] Size, long[] Stride)
    {
        public TorchTensor Resolve(string name, string path)
        {
            long numel = Size.Aggregate(1L, (a, b) => a * b);
            if (Size.Any(d => d < 0) || Offset < 0) throw new InvalidDataException($"{path}: tensor '{name}' has a negative size or offset");
            // Only row-major contiguous views (dimensions of extent 1 may carry any stride).
            long expected = 1;
            for (int d = Size.Length - 1; d >= 0; d--)
            {
                if (Size[d] != 1 && Stride[d] != expected)
                    throw new InvalidDataException($"{path}: tensor '{name}' is a non-contiguous view (size [{string.Join(", ", Size)}], stride [{string.Join(", ", Stride)}]); not supported");
                expected *= Size[d];
            }
            if (Offset + numel > Storage.Numel)
                throw new InvalidDataException($"{path}: tensor '{name}' needs storage elements up to {Offset + numel} but storage '{Storage.Key}' has {Storage.Numel}");
            return new TorchTensor(name, Storage.DType, Size, Storage.Entry, Storage.Key, Offset);
        }
    }

    private sealed class StorageUnpickler(TorchZipArchive zip, string path) : Unpickler
    {
        private readonly Dictionary<string, StorageRef> _storages = new(StringComparer.Ordinal);

        protected override object persistentLoad(object pid)
        {
            if (pid is not object[] { Length: 5 } t || t[0] is not "storage" || t[1] is not ClassDictConstructor type || t[2] is not string key)
                throw new InvalidDataException($"{path}: unexpected persistent id (expected ('storage', torch.<T>Storage, key, location, numel))");
            if (type.module != "torch" || !StorageTypes.TryGetValue(type.name, out var info))
                throw new InvalidDataException($"{path}: refusing storage type '{type.module}.{type.name}'");
            long numel = Convert.ToInt64(t[4]);
            if (_storages.TryGetValue(key, out var known))
            {
                if (known.DType != info.DType) throw new InvalidDataException($"{path}: storage '{key}' is named with two types");
                return known;
            }
            var entry = zip.Find($"data/{key}") ?? throw new InvalidDataException($"{path}: storage '{key}' has no member data/{key} (truncated or corrupt checkpoint)");
            if (entry.Length < numel * info.Size)
                throw new InvalidDataException($"{path}: storage '{key}' holds {entry.Length} bytes, {numel} × {info.Size} expected (truncated checkpoint)");
            return _storages[key] = new StorageRef(key, info.DType, info.Size, numel, entry);
        }
    }

    private sealed class RebuildTensorConstructor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (args.Length < 4 || args[0] is not StorageRef storage || args[2] is not object[] size || args[3] is not object[] stride || size.Length != stride.Length)
                throw new InvalidDataException("_rebuild_tensor_v2 called with unexpected arguments");
            return new TensorRecord(storage, Convert.ToInt64(args[1]), size.Select(Convert.ToInt64).ToArray(), stride.Select(Convert.ToInt64).ToArray());
        }
    }

    private sealed class SizeConstructor : IObjectConstructor
    {
        public object construct(object[] args) => args.Length == 1 && args[0] is object[] dims ? dims : args;
    }

    private sealed class OrderedDictConstructor : IObjectConstructor
    {
        public object construct(object[] args) => new OrderedDictObject();
    }

    /// <summary>
    /// <c>collections.OrderedDict</c> as Razorvine needs it: a <see cref="Hashtable"/> (for SETITEMS) with a
    /// <c>__setstate__</c> for the <c>BUILD {'_metadata': …}</c> that <c>state_dict()</c> attaches (not needed: dropped).
    /// </summary>
    private sealed class OrderedDictObject : Hashtable
    {
        // Called by Razorvine's BUILD through reflection.
        // ReSharper disable once UnusedMember.Local
#pragma warning disable IDE1006
        public void __setstate__(Hashtable state) { }
#pragma warning restore IDE1006
    }
}
