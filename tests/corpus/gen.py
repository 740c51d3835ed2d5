#!/usr/bin/env python3
"""gen.py - seeded generator of extra labelled positives for the detector
corpus. It makes values by the published rules of each format (Luhn and
issuer ranges for cards, the IBAN registry's lengths and BBAN shapes with
ISO 7064 mod 97-10 check digits, SSA area/group/serial rules, E.164 and
the fictional-number ranges regulators reserve for drama and documentation,
RFC 5737/3849 documentation addresses, vendor token shapes from the vendors'
documentation) and sets them into hand-written carrier sentences. It does
not read, import or copy any pattern of src/filter/detect.c: a bug shared by
the generator and the detector would hide itself.

Hard negatives are never generated: they are all hand-written in cases.tsv.

    python3 tests/corpus/gen.py > tests/corpus/generated.tsv

Output: the same two tab-separated columns as cases.tsv (expected kind,
text). Deterministic for a given --seed.
"""
import argparse
import base64
import json
import random
import string
import sys

B62 = string.ascii_letters + string.digits
B64 = B62 + "+/"
B32 = string.ascii_uppercase + "234567"


def luhn_complete(prefix_and_body):
    """Appends the Luhn check digit."""
    digits = [int(c) for c in prefix_and_body]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # these are doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return prefix_and_body + str((10 - total % 10) % 10)


# (prefix, length, grouping) from the networks' published IIN tables
CARD_RULES = [
    ("4", 16, (4, 4, 4, 4)),
    ("4", 13, None),
    ("51", 16, (4, 4, 4, 4)),
    ("53", 16, (4, 4, 4, 4)),
    ("55", 16, (4, 4, 4, 4)),
    ("2221", 16, (4, 4, 4, 4)),
    ("2720", 16, (4, 4, 4, 4)),
    ("34", 15, (4, 6, 5)),
    ("37", 15, (4, 6, 5)),
    ("6011", 16, (4, 4, 4, 4)),
    ("65", 16, (4, 4, 4, 4)),
    ("3528", 16, (4, 4, 4, 4)),
    ("36", 14, (4, 6, 4)),
    ("62", 16, (4, 4, 4, 4)),
    ("4", 19, (4, 4, 4, 4, 3)),
]


def card(rng):
    prefix, n, grouping = rng.choice(CARD_RULES)
    body = prefix + "".join(rng.choice(string.digits)
                            for _ in range(n - len(prefix) - 1))
    num = luhn_complete(body)
    style = rng.choice(["plain", "space", "dash"]) if grouping else "plain"
    if style == "plain":
        return num
    parts, i = [], 0
    for g in grouping:
        parts.append(num[i:i + g])
        i += g
    return (" " if style == "space" else "-").join(parts)


# country: BBAN shape as (count, class) runs; n digits, a upper letters,
# c upper letters or digits (SWIFT IBAN registry)
IBAN_BBAN = {
    "DE": [(18, "n")],
    "GB": [(4, "a"), (14, "n")],
    "FR": [(10, "n"), (11, "c"), (2, "n")],
    "NL": [(4, "a"), (10, "n")],
    "BE": [(12, "n")],
    "ES": [(20, "n")],
    "IT": [(1, "a"), (10, "n"), (12, "c")],
    "AT": [(16, "n")],
    "CH": [(5, "n"), (12, "c")],
    "PL": [(24, "n")],
    "SE": [(20, "n")],
    "DK": [(14, "n")],
    "IE": [(4, "a"), (14, "n")],
    "PT": [(21, "n")],
    "NO": [(11, "n")],
    "FI": [(14, "n")],
    "LU": [(3, "n"), (13, "c")],
    "CZ": [(20, "n")],
}


def iban_check(country, bban):
    s = bban + country + "00"
    num = "".join(str(int(ch, 36)) for ch in s)
    return "%02d" % (98 - int(num) % 97)


def iban(rng):
    country = rng.choice(sorted(IBAN_BBAN))
    bban = ""
    for count, cls in IBAN_BBAN[country]:
        pool = {"n": string.digits, "a": string.ascii_uppercase,
                "c": string.ascii_uppercase + string.digits}[cls]
        bban += "".join(rng.choice(pool) for _ in range(count))
    value = country + iban_check(country, bban) + bban
    if rng.random() < 0.5:
        value = " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def ssn_digits(rng):
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    return "%03d%02d%04d" % (area, rng.randint(1, 99), rng.randint(1, 9999))


def ssn(rng):
    d = ssn_digits(rng)
    return rng.choice([
        "%s-%s-%s" % (d[:3], d[3:5], d[5:]),
        "%s-%s-%s" % (d[:3], d[3:5], d[5:]),
        "%s %s %s" % (d[:3], d[3:5], d[5:]) if d[0] != "0" else
        "%s-%s-%s" % (d[:3], d[3:5], d[5:]),
    ])


FIRST = ["anna", "ben", "chloe", "dmitri", "eva", "farid", "grace", "hiro",
         "ines", "jamal", "kim", "lena", "marco", "nora", "omar", "priya",
         "quinn", "rosa", "sven", "tomas", "uma", "viktor", "wen", "yusuf",
         "zoe", "o.brien", "mary-jane", "j"]
LAST = ["smith", "mueller", "garcia", "nguyen", "kowalski", "rossi",
        "tanaka", "dubois", "olsen", "haddad", "silva", "novak"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com",
           "corp.example.co.uk", "example-widgets.com", "sub.example.io",
           "test.example.de"]


def email(rng):
    f, l = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f + "." + l, f + l, f[0] + l, f + "_" + l,
                        f + "+" + rng.choice(["news", "jira", "x"]),
                        f + str(rng.randint(1, 99)), (f + "." + l).title()])
    return local + "@" + rng.choice(DOMAINS)


def phone(rng):
    kind = rng.randrange(9)
    # NANP: 555-0100..0199 is reserved for fiction
    line = "01%02d" % rng.randint(0, 99)
    area = rng.choice(["202", "212", "415", "312", "617", "303", "555"])
    if kind == 0:
        return "(%s) 555-%s" % (area, line)
    if kind == 1:
        return "%s-555-%s" % (area, line)
    if kind == 2:
        return "+1 %s 555 %s" % (area, line)
    if kind == 3:
        return "+1-%s-555-%s" % (area, line)
    if kind == 4:  # Ofcom drama ranges
        return rng.choice(["+44 20 7946 0%03d", "020 7946 0%03d",
                           "+44 113 496 0%03d", "0161 496 0%03d",
                           "07700 900%03d", "+44 7700 900%03d"]) % \
            rng.randint(0, 999)
    if kind == 5:  # Germany
        return rng.choice(["+49 30 %d", "030 %d", "+49 (0)30 %d",
                           "0049 30 %d", "089/%d"]) % \
            rng.randint(1000000, 9999999)
    if kind == 6:  # France: ARCEP fiction range 01 99 00 ..
        x = rng.randint(0, 9999)
        return rng.choice(["01 99 00 %02d %02d", "+33 1 99 00 %02d %02d"]) % \
            (x // 100, x % 100)
    if kind == 7:  # Australia: ACMA fiction range 0491 570 ...
        return rng.choice(["0491 570 %03d", "+61 491 570 %03d"]) % \
            rng.choice([6, 156, 157, 158, 159, 110, 313, 737, 738, 739, 910])
    return "+%s%d" % (rng.choice(["1415555", "4420794", "4930", "3319900"]),
                      rng.randint(1000, 9999))


def ip(rng):
    k = rng.randrange(6)
    if k == 0:
        return "192.0.2.%d" % rng.randint(1, 254)
    if k == 1:
        return "198.51.100.%d" % rng.randint(1, 254)
    if k == 2:
        return "203.0.113.%d" % rng.randint(1, 254)
    if k == 3:
        return "10.%d.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255),
                                rng.randint(1, 254))
    if k == 4:
        groups = ["%x" % rng.randint(0, 0xffff) for _ in range(6)]
        return "2001:db8:" + ":".join(groups)
    return "2001:db8:%x::%x" % (rng.randint(1, 0xffff), rng.randint(1, 0xffff))


def rand(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(rng):
    hdr = {"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    if rng.random() < 0.3:
        hdr["kid"] = rand(rng, B62, 8)
    body = {"sub": str(rng.randint(1, 10**9)), "iat": rng.randint(1.6e9, 1.8e9),
            "name": rng.choice(FIRST).title()}
    sig = bytes(rng.randrange(256) for _ in range(rng.choice([32, 64])))
    return ".".join([b64url(json.dumps(hdr, separators=(",", ":")).encode()),
                     b64url(json.dumps(body, separators=(",", ":")).encode()),
                     b64url(sig)])


def credential(rng):
    """Returns (kind, value, carrier-with-{}) for one credential."""
    k = rng.randrange(14)
    if k == 0:
        v = rng.choice(["AKIA", "ASIA"]) + rand(rng, B32, 16)
        return "aws_key", v, rng.choice(["export AWS_ACCESS_KEY_ID={}",
                                         "aws_access_key_id = {}",
                                         "the key id is {} for the ci user"])
    if k == 1:
        v = rand(rng, B64, 40)
        return "aws_key", v, rng.choice(["aws_secret_access_key = {}",
                                         "AWS_SECRET_ACCESS_KEY={}",
                                         '"SecretAccessKey": "{}",'])
    if k == 2:
        v = "AIza" + rand(rng, B62 + "-_", 35)
        return "gcp_key", v, rng.choice(["const mapsKey = \"{}\";",
                                         "GOOGLE_API_KEY={}",
                                         "curl 'https://maps.googleapis.com/maps/api/geocode/json?key={}'"])
    if k == 3:
        v = rand(rng, B64, 86) + "=="
        return "azure_key", v, rng.choice([
            "DefaultEndpointsProtocol=https;AccountName=stdata;AccountKey={};EndpointSuffix=core.windows.net",
            "AccountKey={}"])
    if k == 4:
        v = rng.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + rand(rng, B62, 36)
        return "github_token", v, rng.choice(["git clone https://{}@github.com/acme/app.git",
                                              "GITHUB_TOKEN={}", "token: {}"])
    if k == 5:
        v = "github_pat_" + rand(rng, B62, 22) + "_" + rand(rng, B62, 59)
        return "github_token", v, "gh auth login --with-token <<< {}"
    if k == 6:
        v = "glpat-" + rand(rng, B62 + "-_", 20)
        return "gitlab_token", v, rng.choice(["PRIVATE-TOKEN: {}",
                                              "export GITLAB_TOKEN={}"])
    if k == 7:
        v = "xox%s-%d-%d-%s" % (rng.choice("bpa"), rng.randint(10**10, 10**12),
                               rng.randint(10**10, 10**12), rand(rng, B62, 24))
        return "slack_token", v, rng.choice(["SLACK_BOT_TOKEN={}",
                                             "slack token {} for the bot"])
    if k == 8:
        v = jwt(rng)
        return "jwt", v, rng.choice(["Authorization: Bearer {}",
                                     "localStorage.setItem('token', '{}')",
                                     "jwt={}"])
    if k == 9:
        v = "-----BEGIN %sPRIVATE KEY-----" % rng.choice(
            ["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", "DSA "])
        return "pem_key", v, rng.choice(["{}", "echo '{}' > key.pem",
                                         '"private_key": "{}\\nMIIEv..."'])
    if k == 10:
        v = rand(rng, B62, rng.choice([32, 40, 48]))
        return "secret", v, rng.choice(["API_KEY={}", "api_key: \"{}\"",
                                        "client_secret = '{}'",
                                        "Authorization: Bearer {}",
                                        "--token {}"])
    if k == 11:
        v = rng.choice(["sk_live_", "rk_live_", "sk_test_"]) + rand(rng, B62, 24)
        return "secret", v, "stripe.api_key = \"{}\""
    if k == 12:
        v = "npm_" + rand(rng, B62, 36)
        return "secret", v, "//registry.npmjs.org/:_authToken={}"
    # a bare random token with no context (the entropy rule alone)
    v = rand(rng, B62, rng.choice([24, 32, 40]))
    while not any(c.isdigit() for c in v):
        v = rand(rng, B62, len(v))
    return "secret", v, rng.choice(["here it is: {}", "{}",
                                    "paste this into the box: {}"])


CARRIERS = {
    "card": ["card number {} exp 09/27", "Please charge {} for the renewal.",
             "cc: {}", "my visa is {} if you need it",
             "refund to card {} please", "{} cvv on the back"],
    "iban": ["IBAN: {}", "please wire it to {} by Friday",
             "Kontoverbindung {} (Sparkasse)", "bank details {}, BIC on file"],
    "ssn": ["SSN {}", "social security number: {}", "her ssn is {} btw",
            "SSN: {} DOB 04/12/1986"],
    "email": ["mail me at {}", "From: Jane <{}>", "cc {} on the thread",
              "mailto:{}", "user={} role=admin"],
    "phone": ["call me on {}", "Tel.: {}", "my cell is {} after 6",
              "Phone {} (office)", "ring the front desk at {}"],
    "ip": ["ssh deploy@{}", "the box at {} is down", "allow from {}",
           "curl -v http://{}:8080/healthz", "client ip {} blocked"],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--per-kind", type=int, default=100)
    ap.add_argument("--credentials", type=int, default=300)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout
    out.write("# generated by tests/corpus/gen.py --seed %d; do not edit\n"
              % args.seed)
    makers = {"card": card, "iban": iban, "ssn": ssn, "email": email,
              "phone": phone, "ip": ip}
    for kind in ["card", "iban", "ssn", "email", "phone", "ip"]:
        for _ in range(args.per_kind):
            v = makers[kind](rng)
            text = rng.choice(CARRIERS[kind]).format(v)
            out.write("%s\t%s\n" % (kind, text))
    for _ in range(args.credentials):
        kind, v, carrier = credential(rng)
        out.write("%s\t%s\n" % (kind, carrier.format(v)))


if __name__ == "__main__":
    main()
