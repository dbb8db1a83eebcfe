// zhifa 记录核验: checks an inclusion proof in the browser, independently of the server's
// own check. SHA-256 is implemented here because WebCrypto is unavailable on plain-HTTP
// intranet sites. RFC 9162 §2.1.3.2.
(function () {
  "use strict";
  var K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ];

  function sha256(bytes) {
    var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    var len = bytes.length, bitLen = len * 8;
    var padded = new Uint8Array(((len + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[len] = 0x80;
    var view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(bitLen / 0x100000000));
    view.setUint32(padded.length - 4, bitLen >>> 0);
    var w = new Array(64);
    for (var off = 0; off < padded.length; off += 64) {
      for (var i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
      for (i = 16; i < 64; i++) {
        var s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        var s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
      for (i = 0; i < 64; i++) {
        var S1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
        var ch = (e & f) ^ (~e & g);
        var t1 = (hh + S1 + ch + K[i] + w[i]) | 0;
        var S0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
        var maj = (a & b) ^ (a & c) ^ (b & c);
        var t2 = (S0 + maj) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
    }
    var out = new Uint8Array(32), ov = new DataView(out.buffer);
    for (i = 0; i < 8; i++) ov.setUint32(i * 4, h[i]);
    return out;
  }
  function ror(x, n) { return (x >>> n) | (x << (32 - n)); }

  function concat(parts) {
    var n = 0, i;
    for (i = 0; i < parts.length; i++) n += parts[i].length;
    var out = new Uint8Array(n), o = 0;
    for (i = 0; i < parts.length; i++) { out.set(parts[i], o); o += parts[i].length; }
    return out;
  }
  function node(l, r) { return sha256(concat([new Uint8Array([1]), l, r])); }
  function b64(s) {
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function hex(b) {
    var s = "";
    for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
    return s;
  }
  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  // RFC 9162 §2.1.3.2.
  function verifyInclusion(index, size, leaf, proof, root) {
    if (index >= size) return false;
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < proof.length; i++) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = node(proof[i], r);
        if (fn % 2 === 0) { while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
      } else {
        r = node(r, proof[i]);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(r, root);
  }

  var form = document.getElementById("verify-form");
  var out = document.getElementById("browser-check");
  if (!form || !out || !window.fetch) return;
  form.addEventListener("submit", function (ev) {
    var agency = form.elements.agency.value, hash = form.elements.hash.value.trim();
    if (!hash) return;
    ev.preventDefault();
    out.className = "alert info";
    out.textContent = "正在本浏览器中独立核验……";
    var base = "/log/" + encodeURIComponent(agency);
    // The checkpoint first, then the proof for exactly its size, so the two always match.
    fetch(base + "/checkpoint", { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("该日志尚未签发树头");
      return r.text();
    }).then(function (note) {
      var lines = note.split("\n");
      var cpSize = parseInt(lines[1], 10), cpRoot = b64(lines[2] || "");
      return fetch(base + "/proof/inclusion?size=" + cpSize + "&hash=" + encodeURIComponent(hash), { cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (p) { return { p: p, size: cpSize, root: cpRoot }; });
    }).then(function (res) {
      var p = res.p;
      if (p.error) { out.className = "alert error"; out.textContent = p.error.message; return; }
      if (p.hash_algorithm !== "sha256") {
        out.className = "alert info";
        out.textContent = "该日志使用 " + p.hash_algorithm + "（国密），请使用 zhifa verify --bundle 离线核验。";
        return;
      }
      var entry = b64(p.entry), leaf = sha256(concat([new Uint8Array([0]), entry]));
      var wanted = hash.toLowerCase();
      var proof = p.proof.map(b64);
      // The entry the server returned must be the one asked about, and the proof must lead
      // from it to the published root.
      var ok = hex(leaf) === wanted && p.size === res.size && verifyInclusion(p.index, p.size, leaf, proof, res.root);
      out.className = ok ? "alert ok" : "alert error";
      out.textContent = ok
        ? "本浏览器独立核验通过：第 " + p.index + " 条记录（叶哈希 " + hex(leaf).slice(0, 16) + "…）包含在已公布的、大小为 " + res.size + " 的树头中。树头的签名请用公钥与 zhifa verify 或任一 C2SP 工具核验。"
        : "本浏览器独立核验未通过：记录或证明与已公布的树头不符。";
      var more = document.createElement("a");
      more.href = "/verify?agency=" + encodeURIComponent(agency) + "&hash=" + encodeURIComponent(hash);
      more.textContent = " 查看记录详情";
      out.appendChild(more);
    }).catch(function (e) {
      out.className = "alert error";
      out.textContent = (e && e.message) ? e.message : "无法取得证明，请稍后再试。";
    });
  });
})();
