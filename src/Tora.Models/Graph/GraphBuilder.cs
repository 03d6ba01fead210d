using Google.Protobuf;
using Tora.Models.Onnx;

namespace Tora.Models.Graph;

/// <summary>A tensor in a graph under construction: the name of a graph input, initializer or node output.</summary>
public sealed record Value(string Name)
{
    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// Builds one ONNX graph node by node. Architecture code calls the op helpers (<see cref="GraphBuilder"/>'s
/// partial class in <c>GraphOps.cs</c>) inside <see cref="Scope"/>s named like the checkpoint's modules, so
/// that node names read like the module tree (<c>transformer_blocks.3/attn1/MatMul_12</c>).
/// Weights are <see cref="WeightSource"/>s whose data is produced only when the model is written.
/// </summary>
/// <remarks>
/// IR version 8 and opset 17 (plus <c>com.microsoft</c> 1): opset 17 is the first with
/// <c>LayerNormalization</c>, every op used is older than that, ONNX Runtime 1.31 implements all of them on
/// the CPU and CUDA execution providers in float32, float16 and (CUDA) bfloat16, and the contrib ops
/// <c>MultiHeadAttention</c> and <c>FastGelu</c> give the fused attention and GELU kernels
/// (docs/model.md §6.2: MultiHeadAttention gets Flash/cuDNN SDPA on H100, unlike the
/// standard Attention-23 in ORT). IR 8 / opset 17 also validate with the Debian onnx 1.12 tooling
/// (docs/model.md §6.2).
/// </remarks>
public sealed partial class GraphBuilder
{
    /// <summary>IR version written into every model.</summary>
    public const long IrVersion = 8;

    /// <summary>Default-domain opset.</summary>
    public const long Opset = 17;

    /// <summary>Version of the <c>com.microsoft</c> contrib domain.</summary>
    public const long MicrosoftOpset = 1;

    /// <summary>Initializer bytes above which <see cref="Save"/> writes external data (protobuf caps a message at 2 GB).</summary>
    public const long ExternalDataThreshold = 1L << 30;

    private readonly GraphProto _graph = new();
    private readonly List<(string Name, WeightSource Source, ElementType Type)> _weights = [];
    private readonly HashSet<string> _names = [];
    private readonly Stack<string> _scopes = new();
    private readonly List<GraphPort> _inputs = [];
    private readonly List<GraphPort> _outputs = [];
    private int _counter;

    /// <summary>Graph inputs in declaration order.</summary>
    public IReadOnlyList<GraphPort> Inputs => _inputs;

    /// <summary>Graph outputs in declaration order.</summary>
    public IReadOnlyList<GraphPort> Outputs => _outputs;

    /// <summary>Creates a builder for a graph called <paramref name="name"/>.</summary>
    /// <param name="name">Graph name.</param>
    /// <param name="computeType">Element type of activations and of the weights that follow them.</param>
    public GraphBuilder(string name, ElementType computeType = ElementType.Float32)
    {
        if (!computeType.IsFloat()) throw new ArgumentException("compute type must be a float type", nameof(computeType));
        _graph.Name = name;
        ComputeType = computeType;
    }

    /// <summary>Element type of activations and of most weights.</summary>
    public ElementType ComputeType { get; }

    /// <summary>Number of nodes so far.</summary>
    public int NodeCount => _graph.Node.Count;

    /// <summary>Bytes of all initializers as they will be stored.</summary>
    public long WeightBytes => _weights.Sum(w => w.Source.ElementCount * w.Type.Size());

    /// <summary>Opens a naming scope (a module name); dispose to close it.</summary>
    public IDisposable Scope(string name)
    {
        _scopes.Push(name);
        return new PopScope(_scopes);
    }

    /// <summary>Declares a graph input.</summary>
    public Value Input(string name, ElementType type, params Dim[] shape)
    {
        Reserve(name);
        _graph.Input.Add(ValueInfo(name, type, shape));
        _inputs.Add(new GraphPort(name, type, shape));
        return new Value(name);
    }

    /// <summary>
    /// Declares a float32 graph input that callers may leave out: an initializer of the same name holds
    /// <paramref name="defaultValue"/> (an ONNX overridable initializer, IR ≥ 4), so a session fed without it
    /// computes with the default, and runtimes never constant-fold it.
    /// </summary>
    public Value InputWithDefault(string name, float[] defaultValue, params long[] shape)
    {
        Reserve(name);
        var dims = shape.Select(d => (Dim)d).ToArray();
        _graph.Input.Add(ValueInfo(name, ElementType.Float32, dims));
        _inputs.Add(new GraphPort(name, ElementType.Float32, dims));
        _weights.Add((name, new ArrayWeight(defaultValue, shape), ElementType.Float32));
        return new Value(name);
    }

    /// <summary>Declares <paramref name="value"/> as a graph output called <paramref name="name"/> (an Identity renames it when needed).</summary>
    public void Output(Value value, string name, ElementType type, params Dim[] shape)
    {
        if (value.Name != name)
        {
            Reserve(name);
            _graph.Node.Add(new NodeProto { OpType = "Identity", Name = $"output/{name}", Input = { value.Name }, Output = { name } });
        }
        _graph.Output.Add(ValueInfo(name, type, shape));
        _outputs.Add(new GraphPort(name, type, shape));
    }

    /// <summary>Adds a named initializer whose data comes from <paramref name="source"/>.</summary>
    /// <param name="name">Initializer name (the checkpoint tensor name where there is one).</param>
    /// <param name="source">The data.</param>
    /// <param name="type">Storage type; the compute type when null.</param>
    public Value Weight(string name, WeightSource source, ElementType? type = null)
    {
        Reserve(name);
        _weights.Add((name, source, type ?? ComputeType));
        return new Value(name);
    }

    /// <summary>A float constant stored in the compute type.</summary>
    public Value Constant(float[] values, params long[] shape) =>
        Weight(NewName("const"), new ArrayWeight(values, shape));

    /// <summary>A float32 constant regardless of the compute type (fp32 islands).</summary>
    public Value ConstantFloat32(float[] values, params long[] shape) =>
        Weight(NewName("const"), new ArrayWeight(values, shape), ElementType.Float32);

    /// <summary>A scalar in the compute type.</summary>
    public Value Scalar(float value) => Constant([value]);

    /// <summary>An int64 constant (shapes, axes, indices).</summary>
    public Value Int64s(params long[] values)
    {
        var name = NewName("const");
        Reserve(name);
        var t = new TensorProto { Name = name, DataType = (int)ElementType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        _graph.Initializer.Add(t);
        return new Value(name);
    }

    /// <summary>Adds a node and returns its outputs.</summary>
    public Value[] Node(string opType, IReadOnlyList<Value?> inputs, int outputCount, string domain = "", params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = NewName(opType) };
        if (domain.Length > 0) node.Domain = domain;
        foreach (var i in inputs) node.Input.Add(i?.Name ?? "");
        var outputs = new Value[outputCount];
        for (int k = 0; k < outputCount; k++)
        {
            outputs[k] = new Value(outputCount == 1 ? node.Name : $"{node.Name}:{k}");
            Reserve(outputs[k].Name);
            node.Output.Add(outputs[k].Name);
        }
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return outputs;
    }

    /// <summary>Adds a single-output node.</summary>
    public Value Node(string opType, params Value?[] inputs) => Node(opType, inputs, 1)[0];

    /// <summary>Adds a single-output node with attributes.</summary>
    public Value Node(string opType, Value?[] inputs, params AttributeProto[] attributes) => Node(opType, inputs, 1, "", attributes)[0];

    /// <summary>The model with weights embedded (raw data); only for graphs under 2 GB.</summary>
    public ModelProto ToModel()
    {
        if (WeightBytes > int.MaxValue - (64 << 20))
            throw new InvalidOperationException($"graph '{_graph.Name}' holds {WeightBytes} bytes of weights: write it with external data");
        var model = Skeleton();
        foreach (var (name, source, type) in _weights)
        {
            var t = TensorHeader(name, source, type);
            using var ms = new MemoryStream((int)(source.ElementCount * type.Size()));
            source.WriteTo(ms, type);
            t.RawData = UnsafeByteOperations.UnsafeWrap(ms.GetBuffer().AsMemory(0, (int)ms.Length));
            model.Graph.Initializer.Add(t);
        }
        return model;
    }

    /// <summary>Serialises the model with embedded weights (tests load it with <c>new InferenceSession(bytes)</c>).</summary>
    public byte[] ToBytes() => ToModel().ToByteArray();

    /// <summary>
    /// Writes <paramref name="path"/>; when the weights exceed <see cref="ExternalDataThreshold"/> (or
    /// <paramref name="forceExternalData"/>), they stream one tensor at a time into
    /// <c>&lt;file name&gt;.data</c> next to it (ONNX external data, offsets page-aligned so ONNX Runtime can
    /// memory-map them).
    /// </summary>
    /// <returns>The files written (model first).</returns>
    public IReadOnlyList<string> Save(string path, bool forceExternalData = false)
    {
        if (!forceExternalData && WeightBytes <= ExternalDataThreshold)
        {
            using (var f = File.Create(path)) ToModel().WriteTo(f);
            return [path];
        }
        var dataName = Path.GetFileName(path) + ".data";
        var dataPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, dataName);
        var model = Skeleton();
        using (var data = new FileStream(dataPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            foreach (var (name, source, type) in _weights)
            {
                long bytes = source.ElementCount * type.Size();
                long align = bytes >= 65536 ? 4096 : 64;
                long pad = (align - data.Position % align) % align;
                if (pad > 0) data.Write(new byte[pad]);
                long offset = data.Position;
                source.WriteTo(data, type);
                if (data.Position - offset != bytes)
                    throw new InvalidOperationException($"weight '{name}' wrote {data.Position - offset} bytes, expected {bytes}");
                var t = TensorHeader(name, source, type);
                t.DataLocation = TensorProto.Types.DataLocation.External;
                t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataName });
                t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                model.Graph.Initializer.Add(t);
            }
        }
        using (var f = File.Create(path)) model.WriteTo(f);
        return [path, dataPath];
    }

    private ModelProto Skeleton()
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "tora-model-compiler",
            ProducerVersion = typeof(GraphBuilder).Assembly.GetName().Version?.ToString() ?? "0",
            Graph = _graph.Clone(),
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = MicrosoftOpset });
        return model;
    }

    private static TensorProto TensorHeader(string name, WeightSource source, ElementType type)
    {
        var t = new TensorProto { Name = name, DataType = (int)type };
        t.Dims.AddRange(source.Shape);
        return t;
    }

    private static ValueInfoProto ValueInfo(string name, ElementType type, Dim[] shape)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = new TensorShapeProto() };
        foreach (var d in shape)
            tensor.Shape.Dim.Add(d.IsFixed ? new TensorShapeProto.Types.Dimension { DimValue = d.Value } : new TensorShapeProto.Types.Dimension { DimParam = d.Symbol });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    private string NewName(string op)
    {
        var prefix = _scopes.Count == 0 ? "" : string.Join("/", _scopes.Reverse()) + "/";
        return $"{prefix}{op}_{_counter++}";
    }

    private void Reserve(string name)
    {
        if (!_names.Add(name)) throw new InvalidOperationException($"graph '{_graph.Name}' already has a value named '{name}'");
    }

    private sealed class PopScope(Stack<string> scopes) : IDisposable
    {
        public void Dispose() => scopes.Pop();
    }
}

/// <summary>A graph input or output as declared.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="Type">Element type.</param>
/// <param name="Shape">Dimensions.</param>
public sealed record GraphPort(string Name, ElementType Type, IReadOnlyList<Dim> Shape);

/// <summary>Builders of ONNX node attributes.</summary>
public static class Attr
{
    /// <summary>An integer attribute.</summary>
    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A float attribute.</summary>
    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>A string attribute.</summary>
    public static AttributeProto String(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>An integer-list attribute.</summary>
    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }
}
