using System.Buffers.Binary;
using System.Text;

namespace Tora.Models.Checkpoints.Sat;

/// <summary>
/// Lists the globals (<c>module.name</c>) a pickle refers to, by walking its opcodes without executing any
/// (the way <c>pickletools.genops</c> does): <see cref="TorchCheckpointFile"/> refuses a checkpoint naming
/// any global outside its allow-list before the pickle is handed to the unpickler, so a checkpoint can never
/// make the reader construct anything but a state dict. The unpickling itself is Razorvine.Pickle's.
/// </summary>
public static class PickleGlobalScanner
{
    /// <summary>The globals in order of appearance (duplicates kept once).</summary>
    /// <exception cref="InvalidDataException">Unknown or truncated opcode, extension-registry opcodes, or a <c>STACK_GLOBAL</c> whose names are not literal strings.</exception>
    public static IReadOnlyList<string> Globals(ReadOnlySpan<byte> pickle)
    {
        var found = new List<string>();
        var memo = new Dictionary<long, string?>();
        string? last = null, beforeLast = null; // the two most recent stack pushes, when they were strings
        long memoCount = 0;
        int pos = 0;
        void Push(string? s) { beforeLast = last; last = s; }
        while (true)
        {
            if (pos >= pickle.Length) throw new InvalidDataException("pickle ends without STOP (truncated)");
            byte op = pickle[pos++];
            switch (op)
            {
                case (byte)'.': return found; // STOP
                case (byte)'c' or (byte)'i': // GLOBAL, INST: "module\nname\n"
                {
                    string module = Line(pickle, ref pos), name = Line(pickle, ref pos);
                    Add(found, $"{module}.{name}");
                    Push(null);
                    break;
                }
                case 0x93: // STACK_GLOBAL
                    if (beforeLast is null || last is null) throw new InvalidDataException("pickle STACK_GLOBAL with names that are not literal strings");
                    Add(found, $"{beforeLast}.{last}");
                    Push(null);
                    break;
                case 0x82 or 0x83 or 0x84: // EXT1/2/4: globals from the copyreg extension registry
                    throw new InvalidDataException("pickle uses the extension registry (EXT opcodes), which names globals indirectly");
                case (byte)'X': Push(Text(pickle, ref pos, 4)); break; // BINUNICODE
                case 0x8c: Push(Text(pickle, ref pos, 1)); break; // SHORT_BINUNICODE
                case 0x8d: Push(Text(pickle, ref pos, 8)); break; // BINUNICODE8
                case (byte)'V': Push(Line(pickle, ref pos)); break; // UNICODE
                case (byte)'h': Push(memo.GetValueOrDefault(Skip(pickle, ref pos, 1)[0])); break; // BINGET
                case (byte)'j': Push(memo.GetValueOrDefault(BinaryPrimitives.ReadUInt32LittleEndian(Skip(pickle, ref pos, 4)))); break; // LONG_BINGET
                case (byte)'g': Push(long.TryParse(Line(pickle, ref pos), out var gi) ? memo.GetValueOrDefault(gi) : null); break; // GET
                case (byte)'q': memo[Skip(pickle, ref pos, 1)[0]] = last; break; // BINPUT (leaves the stack as is)
                case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(Skip(pickle, ref pos, 4))] = last; break; // LONG_BINPUT
                case (byte)'p': if (long.TryParse(Line(pickle, ref pos), out var pi)) memo[pi] = last; break; // PUT
                case 0x94: memo[memoCount++] = last; break; // MEMOIZE
                // No argument.
                case (byte)'(' or (byte)'0' or (byte)'1' or (byte)'2' or (byte)'N' or (byte)'R' or (byte)'a' or (byte)'b' or (byte)'d'
                    or (byte)'}' or (byte)'e' or (byte)'l' or (byte)']' or (byte)'o' or (byte)'s' or (byte)'t' or (byte)')' or (byte)'u'
                    or (byte)'Q' or 0x81 or 0x85 or 0x86 or 0x87 or 0x88 or 0x89 or 0x8f or 0x90 or 0x91 or 0x92 or 0x97 or 0x98:
                    Push(null);
                    break;
                case (byte)'K' or 0x80: Skip(pickle, ref pos, 1); Push(null); break; // BININT1, PROTO
                case (byte)'M': Skip(pickle, ref pos, 2); Push(null); break; // BININT2
                case (byte)'J': Skip(pickle, ref pos, 4); Push(null); break; // BININT
                case (byte)'G' or 0x95: Skip(pickle, ref pos, 8); Push(null); break; // BINFLOAT, FRAME
                case (byte)'I' or (byte)'L' or (byte)'F' or (byte)'S' or (byte)'P': Line(pickle, ref pos); Push(null); break;
                case (byte)'U' or (byte)'C' or 0x8a: Skip(pickle, ref pos, Length(pickle, ref pos, 1)); Push(null); break; // SHORT_BINSTRING, SHORT_BINBYTES, LONG1
                case (byte)'T' or (byte)'B' or 0x8b: Skip(pickle, ref pos, Length(pickle, ref pos, 4)); Push(null); break; // BINSTRING, BINBYTES, LONG4
                case 0x8e or 0x96: Skip(pickle, ref pos, Length(pickle, ref pos, 8)); Push(null); break; // BINBYTES8, BYTEARRAY8
                default:
                    throw new InvalidDataException($"unknown pickle opcode 0x{op:x2} at byte {pos - 1}");
            }
        }
    }

    private static void Add(List<string> found, string global)
    {
        if (!found.Contains(global)) found.Add(global);
    }

    private static ReadOnlySpan<byte> Skip(ReadOnlySpan<byte> p, ref int pos, long count)
    {
        if (count < 0 || pos + count > p.Length) throw new InvalidDataException("pickle is truncated");
        var s = p.Slice(pos, (int)count);
        pos += (int)count;
        return s;
    }

    private static long Length(ReadOnlySpan<byte> p, ref int pos, int width)
    {
        var b = Skip(p, ref pos, width);
        return width switch
        {
            1 => b[0],
            4 => BinaryPrimitives.ReadInt32LittleEndian(b),
            _ => BinaryPrimitives.ReadInt64LittleEndian(b),
        };
    }

    private static string Text(ReadOnlySpan<byte> p, ref int pos, int width) => Encoding.UTF8.GetString(Skip(p, ref pos, Length(p, ref pos, width)));

    private static string Line(ReadOnlySpan<byte> p, ref int pos)
    {
        int end = p[pos..].IndexOf((byte)'\n');
        if (end < 0) throw new InvalidDataException("pickle is truncated");
        var s = Encoding.UTF8.GetString(p.Slice(pos, end));
        pos += end + 1;
        return s;
    }
}
