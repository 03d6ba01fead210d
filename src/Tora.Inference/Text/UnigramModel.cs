using Google.Protobuf;

namespace Tora.Inference.Text;

/// <summary>
/// SentencePiece's Unigram segmentation (the Viterbi of <c>unigram_model.cc</c>) over already normalized text:
/// best paths are grown from each start position in order, with SentencePiece's exact arithmetic (piece
/// candidates summed and compared in double, stored in float; unknown candidates in float), and a later start
/// replaces an end's best path only when strictly better. That order of float additions
/// decides ties such as "000" → "00" + "0", where Microsoft.ML.Tokenizers 2.0.1 picks "0" + "00"; an unknown
/// character scores <c>min_score − 10</c>, and a run of unknown pieces becomes one (as SentencePiece's
/// processor merges them).
/// </summary>
internal sealed class UnigramModel
{
    private const float UnknownPenalty = 10f;
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;

    private readonly Dictionary<string, (int Id, float Score, int Type)> _pieces = new(StringComparer.Ordinal);
    private readonly int _maxPieceLength;
    private readonly float _minScore = float.MaxValue;
    private readonly float _maxScore = float.MinValue;

    public UnigramModel(byte[] modelProto)
    {
        var input = new CodedInputStream(modelProto);
        var id = 0;
        UnknownId = -1;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) != 1 || WireFormat.GetTagWireType(tag) != WireFormat.WireType.LengthDelimited)
            {
                input.SkipLastField();
                continue;
            }
            var (piece, score, type) = ReadPiece(input.ReadBytes());
            if (type == Unknown) UnknownId = id;
            if (type is Normal or UserDefined or Unused)
            {
                _pieces.TryAdd(piece, (id, score, type));
                _maxPieceLength = Math.Max(_maxPieceLength, piece.Length);
            }
            if (type == Normal)
            {
                _minScore = Math.Min(_minScore, score);
                _maxScore = Math.Max(_maxScore, score);
            }
            id++;
        }
        PieceCount = id;
        if (UnknownId < 0) throw new InvalidDataException("the SentencePiece model has no unknown piece");
        if (_pieces.Count == 0) throw new InvalidDataException("the SentencePiece model has no pieces");
    }

    /// <summary>Number of pieces in the model (the base vocabulary size).</summary>
    public int PieceCount { get; }

    /// <summary>Id of the unknown piece.</summary>
    public int UnknownId { get; }

    /// <summary>Appends the ids of <paramref name="normalized"/> to <paramref name="ids"/>.</summary>
    public void Encode(string normalized, List<int> ids)
    {
        var size = normalized.Length;
        if (size == 0) return;
        var unknownScore = _minScore - UnknownPenalty;
        var bestScore = new float[size + 1];
        var startsAt = new int[size + 1];
        var bestId = new int[size + 1];
        Array.Fill(startsAt, -1);
        startsAt[0] = 0;
        var start = 0;
        while (start < size)
        {
            var tillHere = bestScore[start];
            var charLength = char.IsHighSurrogate(normalized[start]) && start + 1 < size && char.IsLowSurrogate(normalized[start + 1]) ? 2 : 1;
            var hasSingleChar = false;
            var longest = Math.Min(_maxPieceLength, size - start);
            for (var length = 1; length <= longest; length++)
            {
                if (!_pieces.TryGetValue(normalized.Substring(start, length), out var piece) || piece.Type == Unused) continue;
                var end = start + length;
                // User-defined pieces get SentencePiece's bonus so that they always win. The C++ conditional
                // (double bonus : float score) has type double, so the candidate is summed and compared in double
                // and only rounded to float when stored: that decides the near-ties.
                var score = piece.Type == UserDefined ? length * _maxScore - 0.1 : piece.Score;
                var candidate = score + tillHere;
                if (startsAt[end] == -1 || candidate > bestScore[end])
                {
                    bestScore[end] = (float)candidate;
                    startsAt[end] = start;
                    bestId[end] = piece.Id;
                }
                if (length == charLength) hasSingleChar = true;
            }
            if (!hasSingleChar)
            {
                var end = start + charLength;
                var candidate = unknownScore + tillHere;
                if (startsAt[end] == -1 || candidate > bestScore[end])
                {
                    bestScore[end] = candidate;
                    startsAt[end] = start;
                    bestId[end] = UnknownId;
                }
            }
            start += charLength;
        }

        var path = new List<int>();
        for (var end = size; end > 0; end = startsAt[end]) path.Add(bestId[end]);
        path.Reverse();
        for (var i = 0; i < path.Count; i++)
        {
            if (path[i] == UnknownId && i > 0 && path[i - 1] == UnknownId) continue;
            ids.Add(path[i]);
        }
    }

    private static (string Piece, float Score, int Type) ReadPiece(ByteString message)
    {
        var input = new CodedInputStream(message.ToByteArray());
        string piece = "";
        float score = 0;
        var type = Normal;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: piece = input.ReadString(); break;
                case 2: score = input.ReadFloat(); break;
                case 3: type = input.ReadEnum(); break;
                default: input.SkipLastField(); break;
            }
        }
        if (type is < Normal or > Byte) throw new InvalidDataException($"piece '{piece}' has unknown type {type}");
        return (piece, score, type);
    }
}
