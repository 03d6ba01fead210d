using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tora.Inference.Package;

namespace Tora.Inference.Vae;

/// <summary>
/// Runs a VAE chunk graph (<c>CogVideoXVae</c> in Tora.Models) chunk after chunk, carrying the causal
/// convolutions' caches between runs: every <c>present.m</c> output of one chunk is bound as the
/// <c>past.m</c> input of the next through <see cref="OrtIoBinding"/>, so the caches stay where the
/// session's provider put them (GPU memory with CUDA) and never cross to the host. A clip's first chunk
/// runs with empty pasts (time length 0), which makes the graph pad with the chunk's first frame (the
/// original's "no cache"). The graph's frame-arithmetic inputs (<see cref="VaeFrameInputs"/>) are computed
/// here from the chunk's length, so the graph needs no int64 shape arithmetic of its own.
/// </summary>
internal sealed class CausalChunkRunner : IDisposable
{
    private const int TimeAxis = 2;

    private readonly InferenceSession _session;
    private readonly string _input;
    private readonly string[] _outputs;
    private readonly string[] _pastNames;
    private readonly string[] _presentNames;
    private readonly PastShape[] _pastShapes;
    private readonly OrtValue?[] _emptyPasts;
    private (long Height, long Width) _emptySize = (-1, -1);
    private readonly string[] _frameInputs;
    private readonly int _cacheFrames;
    private readonly byte[] _emptyBacking = GC.AllocateArray<byte>(16, pinned: true);
    private readonly OrtMemoryInfo _cacheMemory;
    private readonly RunOptions _runOptions = new();
    private IDisposableReadOnlyCollection<OrtValue>? _results;

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
        if (!session.InputMetadata.ContainsKey(input)) throw new InvalidDataException($"VAE graph has no input '{input}'");
        foreach (var name in outputs)
            if (!session.OutputMetadata.ContainsKey(name)) throw new InvalidDataException($"VAE graph has no output '{name}'");

        _frameInputs = session.InputMetadata.Keys.Where(VaeFrameInputs.Is).Order(StringComparer.Ordinal).ToArray();
        foreach (var name in _frameInputs) VaeFrameInputs.Value(name, 1, 0, 0);
        _pastNames = session.InputMetadata.Keys.Where(k => k != input && !VaeFrameInputs.Is(k)).Order(StringComparer.Ordinal).ToArray();
        _presentNames = new string[_pastNames.Length];
        _emptyPasts = new OrtValue?[_pastNames.Length];
        _pastShapes = new PastShape[_pastNames.Length];
        for (int i = 0; i < _pastNames.Length; i++)
        {
            if (!_pastNames[i].StartsWith(GraphNames.Vae.PastPrefix, StringComparison.Ordinal))
                throw new InvalidDataException($"VAE graph input '{_pastNames[i]}' is neither '{input}' nor a past.* cache");
            _presentNames[i] = GraphNames.Vae.PresentPrefix + _pastNames[i][GraphNames.Vae.PastPrefix.Length..];
            var meta = session.InputMetadata[_pastNames[i]];
            if (!session.OutputMetadata.TryGetValue(_presentNames[i], out var outMeta))
                throw new InvalidDataException($"VAE graph has cache input '{_pastNames[i]}' but no output '{_presentNames[i]}'");
            _pastShapes[i] = PastShape.Of(_pastNames[i], meta, outMeta);
            _cacheFrames = outMeta.Dimensions[TimeAxis];
        }
    }

    /// <summary>Number of cached convolutions.</summary>
    public int CacheCount => _pastNames.Length;

    /// <summary>Forgets the caches: the next <see cref="Run"/> starts a new clip.</summary>
    public void Reset()
    {
        _results?.Dispose();
        _results = null;
    }

    /// <summary>
    /// Runs one chunk. <paramref name="data"/> (float32, <paramref name="shape"/>) is the chunk; for each data
    /// output, <paramref name="consume"/> gets its index, values and shape while they are valid.
    /// </summary>
    public void Run(Memory<float> data, long[] shape, Action<int, ReadOnlySpan<float>, long[]> consume)
    {
        if (_results is null) PrepareEmptyPasts(shape[3], shape[4]);
        using var binding = _session.CreateIoBinding();
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, data, shape);
        binding.BindInput(_input, input);
        var frameValues = new OrtValue[_frameInputs.Length];
        try
        {
            int pastFrames = _results is null ? 0 : _cacheFrames;
            for (int i = 0; i < _frameInputs.Length; i++)
            {
                var value = VaeFrameInputs.Value(_frameInputs[i], checked((int)shape[TimeAxis]), pastFrames, _cacheFrames);
                frameValues[i] = OrtValue.CreateTensorValueFromMemory(value, [value.Length]);
                binding.BindInput(_frameInputs[i], frameValues[i]);
            }
            RunBound(binding, consume);
        }
        finally
        {
            foreach (var v in frameValues) v?.Dispose();
        }
    }

    private void RunBound(OrtIoBinding binding, Action<int, ReadOnlySpan<float>, long[]> consume)
    {
        for (int i = 0; i < _pastNames.Length; i++)
            binding.BindInput(_pastNames[i], _results is null ? _emptyPasts[i]! : _results[_outputs.Length + i]);
        foreach (var name in _outputs) binding.BindOutputToDevice(name, OrtMemoryInfo.DefaultInstance);
        foreach (var name in _presentNames) binding.BindOutputToDevice(name, _cacheMemory);
        _session.RunWithBinding(_runOptions, binding);
        var results = binding.GetOutputValues();
        _results?.Dispose();
        _results = results;
        for (int k = 0; k < _outputs.Length; k++)
        {
            var value = results[k];
            consume(k, value.GetTensorDataAsSpan<float>(), value.GetTensorTypeAndShape().Shape);
        }
    }

    /// <summary>
    /// The first chunk's pasts for an input of <paramref name="height"/> × <paramref name="width"/>: each cache's
    /// shape with no frames (nothing to read, so any pointer does), its spatial size resolved from the input's.
    /// </summary>
    private void PrepareEmptyPasts(long height, long width)
    {
        if (_emptySize == (height, width)) return;
        for (int i = 0; i < _pastShapes.Length; i++)
        {
            _emptyPasts[i]?.Dispose();
            _emptyPasts[i] = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, _pastShapes[i].Type,
                _pastShapes[i].Empty(height, width), Marshal.UnsafeAddrOfPinnedArrayElement(_emptyBacking, 0), 0);
        }
        _emptySize = (height, width);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _results?.Dispose();
        foreach (var v in _emptyPasts) v?.Dispose();
        _runOptions.Dispose();
    }

    /// <summary>
    /// A cache input's declared shape [1, C, frames, h, w]: C fixed, h and w fixed or <see cref="VaeSpatialDim"/>
    /// names relative to the data input's height and width.
    /// </summary>
    private sealed record PastShape(TensorElementType Type, long Channels, SpatialSize Height, SpatialSize Width)
    {
        public static PastShape Of(string name, NodeMetadata past, NodeMetadata present)
        {
            var dims = past.Dimensions;
            var error = $"VAE cache '{name}' must be [1, C, frames, h, w] with C fixed and h, w fixed or relative to the input's, equal to its output's";
            if (dims.Length != 5 || present.Dimensions.Length != 5 || dims[1] <= 0 || dims[1] != present.Dimensions[1]) throw new InvalidDataException(error);
            SpatialSize Spatial(int axis)
            {
                if (dims[axis] > 0 && dims[axis] == present.Dimensions[axis]) return new SpatialSize(dims[axis], null);
                var symbol = past.SymbolicDimensions[axis];
                if (dims[axis] <= 0 && symbol == present.SymbolicDimensions[axis] && VaeSpatialDim.TryParse(symbol, out var d)) return new SpatialSize(0, d);
                throw new InvalidDataException(error);
            }
            return new PastShape(past.ElementDataType, dims[1], Spatial(3), Spatial(4));
        }

        public long[] Empty(long inputHeight, long inputWidth) => [1, Channels, 0, Height.Resolve(inputHeight), Width.Resolve(inputWidth)];
    }

    /// <summary>A cache's height or width: fixed, or relative to the input's.</summary>
    private readonly record struct SpatialSize(long Fixed, VaeSpatialDim? Relative)
    {
        public long Resolve(long input) => Relative?.Resolve(input) ?? Fixed;
    }
}
