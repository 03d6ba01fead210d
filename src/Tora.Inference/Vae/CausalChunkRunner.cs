using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Tora.Inference.Vae;

/// <summary>
/// Runs a VAE chunk graph (<c>CogVideoXVae</c> in Tora.Models) chunk after chunk, carrying the causal
/// convolutions' caches between runs: every <c>present.m</c> output of one chunk is bound as the
/// <c>past.m</c> input of the next through <see cref="OrtIoBinding"/>, so the caches stay where the
/// session's provider put them (GPU memory with CUDA) and never cross to the host. The first chunk of a clip
/// runs with <c>first_chunk = 1</c>, which makes the graph pad with the chunk's first frame (the original's
/// "no cache"); its past inputs are then ignored and all view one shared zero buffer.
/// </summary>
internal sealed class CausalChunkRunner : IDisposable
{
    /// <summary>Input flag name (CogVideoXVae.FirstChunk).</summary>
    public const string FirstChunkInput = "first_chunk";

    private const string Past = "past.";
    private const string Present = "present.";

    private readonly InferenceSession _session;
    private readonly string _input;
    private readonly string[] _outputs;
    private readonly string[] _pastNames;
    private readonly string[] _presentNames;
    private readonly OrtValue[] _zeroCaches;
    private readonly byte[] _zeros;
    private readonly OrtMemoryInfo _cacheMemory;
    private readonly long[] _flag = new long[1];
    private readonly RunOptions _runOptions = new();
    private IDisposableReadOnlyCollection<OrtValue>? _results;
    private bool _started;

    /// <param name="session">The chunk graph's session (not owned).</param>
    /// <param name="input">The data input (latents or frames).</param>
    /// <param name="outputs">The data outputs, returned to host memory.</param>
    /// <param name="cacheMemory">Where the cache outputs live; the CPU when null. For CUDA pass
    /// <c>new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, device, OrtMemType.Default)</c>.</param>
    /// <exception cref="InvalidDataException">The session is not a chunk graph with matching past/present caches.</exception>
    public CausalChunkRunner(InferenceSession session, string input, string[] outputs, OrtMemoryInfo? cacheMemory)
    {
        _session = session;
        _input = input;
        _outputs = outputs;
        _cacheMemory = cacheMemory ?? OrtMemoryInfo.DefaultInstance;
        foreach (var name in new[] { input, FirstChunkInput })
            if (!session.InputMetadata.ContainsKey(name)) throw new InvalidDataException($"VAE graph has no input '{name}'");
        foreach (var name in outputs)
            if (!session.OutputMetadata.ContainsKey(name)) throw new InvalidDataException($"VAE graph has no output '{name}'");

        _pastNames = session.InputMetadata.Keys.Where(k => k.StartsWith(Past, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        _presentNames = _pastNames.Select(p => Present + p[Past.Length..]).ToArray();
        long largest = 0;
        var shapes = new long[_pastNames.Length][];
        for (int i = 0; i < _pastNames.Length; i++)
        {
            var meta = session.InputMetadata[_pastNames[i]];
            if (!session.OutputMetadata.TryGetValue(_presentNames[i], out var outMeta))
                throw new InvalidDataException($"VAE graph has cache input '{_pastNames[i]}' but no output '{_presentNames[i]}'");
            if (meta.Dimensions.Any(d => d <= 0) || !meta.Dimensions.SequenceEqual(outMeta.Dimensions))
                throw new InvalidDataException($"VAE cache '{_pastNames[i]}' must have the same fixed shape in and out");
            shapes[i] = meta.Dimensions.Select(d => (long)d).ToArray();
            largest = Math.Max(largest, shapes[i].Aggregate(1L, (a, b) => a * b) * ElementSize(meta.ElementDataType));
        }
        if (session.InputMetadata.Keys.Count(k => !k.StartsWith(Past, StringComparison.Ordinal)) != 2)
            throw new InvalidDataException($"VAE graph inputs must be '{input}', '{FirstChunkInput}' and the past.* caches");

        // One pinned zero buffer viewed by every first-chunk cache input (they are read-only and ignored).
        _zeros = GC.AllocateArray<byte>((int)Math.Max(largest, 1), pinned: true);
        _zeroCaches = new OrtValue[_pastNames.Length];
        for (int i = 0; i < _pastNames.Length; i++)
        {
            var meta = session.InputMetadata[_pastNames[i]];
            _zeroCaches[i] = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, meta.ElementDataType, shapes[i],
                Marshal.UnsafeAddrOfPinnedArrayElement(_zeros, 0), _zeros.LongLength);
        }
    }

    /// <summary>Number of cached convolutions.</summary>
    public int CacheCount => _pastNames.Length;

    /// <summary>Forgets the caches: the next <see cref="Run"/> starts a new clip.</summary>
    public void Reset()
    {
        _results?.Dispose();
        _results = null;
        _started = false;
    }

    /// <summary>
    /// Runs one chunk. <paramref name="data"/> (float32, <paramref name="shape"/>) is the chunk; for each data
    /// output, <paramref name="consume"/> gets its index, values and shape while they are valid.
    /// </summary>
    public void Run(Memory<float> data, long[] shape, Action<int, ReadOnlySpan<float>, long[]> consume)
    {
        using var binding = _session.CreateIoBinding();
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, data, shape);
        _flag[0] = _started ? 0 : 1;
        using var flag = OrtValue.CreateTensorValueFromMemory(_flag, [1]);
        binding.BindInput(_input, input);
        binding.BindInput(FirstChunkInput, flag);
        for (int i = 0; i < _pastNames.Length; i++)
            binding.BindInput(_pastNames[i], _started ? _results![_outputs.Length + i] : _zeroCaches[i]);
        foreach (var name in _outputs) binding.BindOutputToDevice(name, OrtMemoryInfo.DefaultInstance);
        foreach (var name in _presentNames) binding.BindOutputToDevice(name, _cacheMemory);
        _session.RunWithBinding(_runOptions, binding);
        var results = binding.GetOutputValues();
        _results?.Dispose();
        _results = results;
        _started = true;
        for (int k = 0; k < _outputs.Length; k++)
        {
            var value = results[k];
            consume(k, value.GetTensorDataAsSpan<float>(), value.GetTensorTypeAndShape().Shape);
        }
    }

    private static int ElementSize(TensorElementType t) => t switch
    {
        TensorElementType.Float => 4,
        TensorElementType.Float16 or TensorElementType.BFloat16 => 2,
        _ => throw new InvalidDataException($"VAE cache element type {t} is not a float type"),
    };

    /// <inheritdoc />
    public void Dispose()
    {
        _results?.Dispose();
        foreach (var z in _zeroCaches) z.Dispose();
        _runOptions.Dispose();
    }
}
