using Google.Protobuf;

namespace Tora.Inference.Text;

/// <summary>
/// Rewrites a SentencePiece <c>ModelProto</c> in memory so that Microsoft.ML.Tokenizers 2.0.1 can load T5's
/// model: its Unigram loader indexes the BOS piece and throws on T5's <c>trainer_spec.bos_id = -1</c>
/// (docs/model.md §4.1). Setting <c>bos_id</c> to the pad id is harmless because the T5 tokenizer never adds a BOS.
/// The proto is edited on the wire format (field numbers of <c>sentencepiece_model.proto</c>), every other
/// field copied byte for byte.
/// </summary>
internal static class SentencePieceModelPatch
{
    private const int TrainerSpecField = 2; // ModelProto.trainer_spec
    private const int UnkIdField = 40;      // TrainerSpec.unk_id (default 0)
    private const int BosIdField = 41;      // TrainerSpec.bos_id (default 1)
    private const int PadIdField = 43;      // TrainerSpec.pad_id (default -1)

    /// <summary>Returns the model with a non-negative <c>bos_id</c> (the input itself when it already has one).</summary>
    public static byte[] WithUsableBosId(byte[] model)
    {
        var topFields = ReadFields(model);
        var trainerIndex = topFields.FindLastIndex(f => f.Number == TrainerSpecField && f.WireType == WireFormat.WireType.LengthDelimited);
        if (trainerIndex < 0) return model; // no trainer spec: bos_id takes its default 1
        var spec = new CodedInputStream(topFields[trainerIndex].Raw);
        spec.ReadTag();
        var specBytes = spec.ReadBytes().ToByteArray();
        var specFields = ReadFields(specBytes);

        int bos = 1, pad = -1, unk = 0;
        foreach (var f in specFields)
        {
            if (f.WireType != WireFormat.WireType.Varint) continue;
            var value = ReadVarint(f.Raw);
            if (f.Number == BosIdField) bos = value;
            else if (f.Number == PadIdField) pad = value;
            else if (f.Number == UnkIdField) unk = value;
        }
        if (bos >= 0) return model;
        var replacement = pad >= 0 ? pad : unk;

        using var newSpec = new MemoryStream();
        foreach (var f in specFields)
            if (f.Number != BosIdField) newSpec.Write(f.Raw);
        var specOut = new CodedOutputStream(newSpec, leaveOpen: true);
        specOut.WriteTag(BosIdField, WireFormat.WireType.Varint);
        specOut.WriteInt32(replacement);
        specOut.Flush();

        using var result = new MemoryStream();
        for (var i = 0; i < topFields.Count; i++)
        {
            var f = topFields[i];
            if (i == trainerIndex)
            {
                var output = new CodedOutputStream(result, leaveOpen: true);
                output.WriteTag(TrainerSpecField, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(ByteString.CopyFrom(newSpec.ToArray()));
                output.Flush();
            }
            else
            {
                result.Write(f.Raw);
            }
        }
        return result.ToArray();
    }

    private readonly record struct Field(int Number, WireFormat.WireType WireType, byte[] Raw);

    /// <summary>Splits a message into its fields, each with its raw bytes (tag included).</summary>
    private static List<Field> ReadFields(byte[] message)
    {
        var fields = new List<Field>();
        var input = new CodedInputStream(message);
        while (true)
        {
            var start = (int)input.Position;
            var tag = input.ReadTag();
            if (tag == 0) break;
            input.SkipLastField();
            var end = (int)input.Position;
            fields.Add(new Field(WireFormat.GetTagFieldNumber(tag), WireFormat.GetTagWireType(tag), message[start..end]));
        }
        return fields;
    }

    private static int ReadVarint(byte[] rawField)
    {
        var input = new CodedInputStream(rawField);
        input.ReadTag();
        return input.ReadInt32();
    }
}
