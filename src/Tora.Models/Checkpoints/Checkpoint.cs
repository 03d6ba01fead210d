using System.Text.Json;
using Tora.Models.Graph;

namespace Tora.Models.Checkpoints;

/// <summary>
/// The weights of one diffusers/transformers component folder: a single <c>*.safetensors</c> file or shards
/// listed in <c>*.safetensors.index.json</c>. Architecture code asks for each tensor by its checkpoint name
/// and expected shape; the checkpoint remembers what was used so that <see cref="EnsureAllUsed"/> can reject
/// tensors the architecture does not know (a wrong or newer checkpoint) by name.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    private readonly List<SafetensorsFile> _files = [];
    private readonly Dictionary<string, SafetensorsFile> _owner = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StoredTensor> _stored = new(StringComparer.Ordinal);
    private readonly List<IDisposable> _owners = [];
    private readonly List<string> _storedFiles = [];
    private Func<string, string?>? _sourceNameOf;

    private Checkpoint(string folder) => Folder = folder;

    /// <summary>The component folder (or, for tensors from another container, a label naming the file and group).</summary>
    public string Folder { get; }

    /// <summary>Every weight file read (for the manifest's source hashes).</summary>
    public IReadOnlyList<string> Files => _files.Select(f => f.Path).Concat(_storedFiles).ToList();

    /// <summary>All tensor names.</summary>
    public IEnumerable<string> Names => _owner.Keys.Concat(_stored.Keys);

    /// <summary>
    /// A checkpoint over tensors that already carry their graph names (another container format mapped onto
    /// the diffusers names, e.g. SAT <c>.pt</c> files): the architecture code reads it exactly as a folder.
    /// </summary>
    /// <param name="label">Shown in error messages in place of the folder.</param>
    /// <param name="tensors">Tensors by diffusers name.</param>
    /// <param name="files">The files the tensors come from.</param>
    /// <param name="owners">Disposed with the checkpoint (the open containers).</param>
    /// <param name="sourceNameOf">For messages: the source container's name of a missing graph tensor.</param>
    public static Checkpoint FromTensors(string label, IReadOnlyDictionary<string, StoredTensor> tensors, IEnumerable<string> files, IEnumerable<IDisposable> owners,
        Func<string, string?>? sourceNameOf = null)
    {
        var ckpt = new Checkpoint(label) { _sourceNameOf = sourceNameOf };
        foreach (var (name, t) in tensors) ckpt._stored.Add(name, t);
        ckpt._storedFiles.AddRange(files);
        ckpt._owners.AddRange(owners);
        return ckpt;
    }

    /// <summary>Opens the safetensors weights of a component folder (sharded or not).</summary>
    /// <exception cref="FileNotFoundException">No safetensors weights in the folder.</exception>
    public static Checkpoint Open(string folder)
    {
        var ckpt = new Checkpoint(folder);
        try
        {
            var index = Directory.GetFiles(folder, "*.safetensors.index.json");
            if (index.Length > 1) throw new InvalidDataException($"{folder}: more than one *.safetensors.index.json");
            IEnumerable<string> shards;
            Dictionary<string, string>? weightMap = null;
            if (index.Length == 1)
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(index[0]));
                if (!doc.RootElement.TryGetProperty("weight_map", out var wm))
                    throw new InvalidDataException($"{index[0]}: no weight_map");
                weightMap = wm.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal);
                shards = weightMap.Values.Distinct().Order(StringComparer.Ordinal);
            }
            else
            {
                shards = Directory.GetFiles(folder, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal)!;
            }
            foreach (var shard in shards)
            {
                var path = Path.Combine(folder, shard);
                if (!File.Exists(path)) throw new FileNotFoundException($"{folder}: weight shard '{shard}' is missing", path);
                var file = SafetensorsFile.Open(path);
                ckpt._files.Add(file);
                foreach (var name in file.Entries.Keys)
                {
                    if (!ckpt._owner.TryAdd(name, file))
                        throw new InvalidDataException($"{folder}: tensor '{name}' appears in more than one shard");
                    if (weightMap is not null && (!weightMap.TryGetValue(name, out var listed) || listed != shard))
                        throw new InvalidDataException($"{folder}: tensor '{name}' is in '{shard}' but the index says '{(weightMap.TryGetValue(name, out var l) ? l : "nowhere")}'");
                }
            }
            if (weightMap is not null)
                foreach (var name in weightMap.Keys)
                    if (!ckpt._owner.ContainsKey(name))
                        throw new InvalidDataException($"{folder}: tensor '{name}' is listed in the index but missing from '{weightMap[name]}'");
            if (ckpt._files.Count == 0) throw new FileNotFoundException($"{folder}: no *.safetensors weights");
            return ckpt;
        }
        catch
        {
            ckpt.Dispose();
            throw;
        }
    }

    /// <summary>Whether the checkpoint has a tensor.</summary>
    public bool Contains(string name) => _owner.ContainsKey(name) || _stored.ContainsKey(name);

    /// <summary>The header entry of a tensor.</summary>
    public SafetensorsEntry Entry(string name) =>
        _owner.TryGetValue(name, out var f) ? f.Entries[name] : throw new CheckpointException($"{Folder}: missing tensor '{name}'");

    /// <summary>A float tensor as a lazy <see cref="WeightSource"/>, checked against <paramref name="expectedShape"/> and marked used.</summary>
    /// <exception cref="CheckpointException">The tensor is missing, not a float tensor or has another shape.</exception>
    public WeightSource Tensor(string name, params long[] expectedShape)
    {
        if (_stored.TryGetValue(name, out var stored))
        {
            if (!stored.Shape.SequenceEqual(expectedShape))
                throw new CheckpointException($"{Folder}: tensor '{stored.SourceName}' has shape [{string.Join(", ", stored.Shape)}], expected [{string.Join(", ", expectedShape)}]");
            if (stored.ElementType is not ({ } st) || !st.IsFloat())
                throw new CheckpointException($"{Folder}: tensor '{stored.SourceName}' has dtype {stored.DType}, expected F32, F16 or BF16");
            _used.Add(name);
            return stored.Open();
        }
        if (!_owner.ContainsKey(name) && _stored.Count > 0)
            throw new CheckpointException($"{Folder}: missing tensor '{name}'" + (_sourceNameOf?.Invoke(name) is { } source ? $" (from '{source}')" : ""));
        var entry = Entry(name);
        if (!entry.Shape.SequenceEqual(expectedShape))
            throw new CheckpointException($"{Folder}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}], expected [{string.Join(", ", expectedShape)}]");
        if (entry.ElementType is not ({ } t) || !t.IsFloat())
            throw new CheckpointException($"{Folder}: tensor '{name}' has dtype {entry.DType}, expected F32, F16 or BF16");
        _used.Add(name);
        return new CheckpointWeight(_owner[name], entry);
    }

    /// <summary>Marks tensors as deliberately unused (BatchNorm <c>num_batches_tracked</c> counters).</summary>
    public void Ignore(string name)
    {
        if (_owner.ContainsKey(name) || _stored.ContainsKey(name)) _used.Add(name);
    }

    /// <summary>Fails naming the first tensors that the architecture did not use.</summary>
    /// <exception cref="CheckpointException">Some tensors were not used.</exception>
    public void EnsureAllUsed()
    {
        var unknown = Names.Where(n => !_used.Contains(n)).Select(n => _stored.TryGetValue(n, out var t) ? t.SourceName : n)
            .Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new CheckpointException($"{Folder}: {unknown.Count} unknown tensor(s), e.g. '{string.Join("', '", unknown.Take(5))}'");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _files.Clear();
        foreach (var o in _owners) o.Dispose();
        _owners.Clear();
    }

    private sealed class CheckpointWeight(SafetensorsFile file, SafetensorsEntry entry) : WeightSource
    {
        public override long[] Shape => entry.Shape;

        public override void ReadFloats(Span<float> destination)
        {
            var type = entry.ElementType!.Value;
            const int chunk = 1 << 20;
            long n = entry.ElementCount;
            for (long i = 0; i < n; i += chunk)
            {
                int len = (int)Math.Min(chunk, n - i);
                ElementTypes.DecodeToFloat(file.Bytes(entry, i * type.Size(), len * type.Size()), type, destination.Slice((int)i, len));
            }
            file.Release(entry);
        }
    }
}

/// <summary>One tensor of a non-safetensors container, already under its graph name (see <see cref="Checkpoint.FromTensors"/>).</summary>
public abstract class StoredTensor
{
    /// <summary>Shape under the graph name.</summary>
    public abstract long[] Shape { get; }

    /// <summary>dtype as a safetensors-style string (F32, BF16, F16, I64, ...).</summary>
    public abstract string DType { get; }

    /// <summary>The element type, or null when the compiler cannot read it as a weight.</summary>
    public abstract ElementType? ElementType { get; }

    /// <summary>Where the values come from, for messages (e.g. the SAT name and the rows taken from it).</summary>
    public abstract string SourceName { get; }

    /// <summary>A lazy reader of the values in graph layout.</summary>
    public abstract WeightSource Open();
}

/// <summary>A checkpoint does not fit the architecture (missing, unknown or mis-shaped tensor, bad config).</summary>
public sealed class CheckpointException(string message) : Exception(message);
