using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Imagebin.Tests.Support;

/// <summary>The agent's side of proof-of-work sign-up: try nonces until sha256(prefix + nonce) has enough leading zero bits.</summary>
public static class PowSolver
{
    public static string Solve(JsonElement challenge)
    {
        var prefix = challenge.GetProperty("prefix").GetString()!;
        var bits = challenge.GetProperty("difficulty_bits").GetInt32();
        for (long i = 0; ; i++)
        {
            var nonce = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (Work(prefix, nonce) >= bits)
            {
                return nonce;
            }
        }
    }

    public static int Work(string prefix, string nonce) => LeadingZeroBits(SHA256.HashData(Encoding.UTF8.GetBytes(prefix + nonce)));

    private static int LeadingZeroBits(byte[] hash)
    {
        var bits = 0;
        foreach (var b in hash)
        {
            for (var mask = 0x80; mask > 0; mask >>= 1, bits++)
            {
                if ((b & mask) != 0)
                {
                    return bits;
                }
            }
        }

        return bits;
    }

    /// <summary>Signs up at <paramref name="client"/>'s site; returns the new account's API key.</summary>
    public static async Task<JsonElement> SignUpAsync(HttpClient client, string name)
    {
        using var challengeResponse = await client.GetAsync("/api/v1/auth/pow/challenge");
        var challenge = JsonDocument.Parse(await challengeResponse.Content.ReadAsStringAsync()).RootElement.Clone();
        using var response = await client.PostAsync("/api/v1/auth/pow/signup", new StringContent(JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["challenge_id"] = challenge.GetProperty("challenge_id").GetString()!,
            ["nonce"] = Solve(challenge),
            ["display_name"] = name,
        }), Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}
