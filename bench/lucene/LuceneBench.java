/* bench/lucene/LuceneBench.java — the Lucene 8 peer for spar's BM25 benchmarks (bench/run_bm25.sh, bench/relevance.sh).
 *
 * Lucene 8.x from Debian (liblucene8-java: lucene-core, lucene-analyzers-common), OpenJDK 17, no other jars.
 * Analysis: EnglishAnalyzer (standard tokenizer, possessive filter, lowercase, English stop words, Porter stemmer).
 * Scoring: BM25Similarity(k1 = 0.9, b = 0.4), the Anserini/BEIR defaults.
 *
 *   index  --corpus C.jsonl[.gz] --index DIR [--threads N] [--ram-mb 256] [--no-merge] [--freqs-only]
 *          BEIR JSONL -> one Lucene index; field "id" (StringField, stored) and "body" (TextField, not stored) =
 *          title + " " + text (--freqs-only: same analysis, postings without positions, as spar stores).
 *          N threads each take batches of lines, parse and addDocument into one IndexWriter.
 *          forceMerge(1) at the end (spar writes a single segment), timed separately.
 *          Prints one JSON line: docs, seconds without/with merge, docs/s both ways, index bytes.
 *   search --index DIR --queries Q.jsonl [--k 10,1000] [--threads 1] [--warmup 3] [--reps 5] [--run OUT.trec]
 *          Each query = BooleanQuery of SHOULD TermQuery over the analyzed query tokens (one clause per distinct
 *          term, boosted by its count: the Anserini bag-of-words query). Top-k through TopScoreDocCollector with
 *          totalHitsThreshold = k (no exact hit counting, so block-max WAND/MaxScore may skip).
 *          JIT warm-up: every query `warmup` times per k. Then `reps` timed passes; every (query, pass) is one
 *          System.nanoTime sample. With --threads 2 the queries of each pass are split between 2 threads sharing
 *          one IndexSearcher (latency samples from both; throughput = queries / wall time of the pass).
 *          Prints one JSON line per k. --run writes the TREC run of the largest k (untimed pass, with ids).
 *   analyze < lines   prints each line's EnglishAnalyzer terms, space-separated (analyzer parity checks).
 */
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.atomic.*;
import java.util.zip.GZIPInputStream;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.document.*;
import org.apache.lucene.index.*;
import org.apache.lucene.search.*;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.FSDirectory;

public final class LuceneBench {
    static final float K1 = 0.9f, B = 0.4f;

    // ------------------------------------------------------------------ minimal JSON (BEIR lines)
    /** Parses one flat JSON object; returns its string-valued fields (other values skipped). */
    static Map<String, String> parseJsonLine(String s, long lineNo) {
        Map<String, String> out = new HashMap<>();
        int[] pos = {skipWs(s, 0)};
        expect(s, pos, '{', lineNo);
        pos[0] = skipWs(s, pos[0]);
        if (pos[0] < s.length() && s.charAt(pos[0]) == '}') return out;
        while (true) {
            pos[0] = skipWs(s, pos[0]);
            String key = parseString(s, pos, lineNo);
            pos[0] = skipWs(s, pos[0]);
            expect(s, pos, ':', lineNo);
            pos[0] = skipWs(s, pos[0]);
            if (pos[0] < s.length() && s.charAt(pos[0]) == '"') out.put(key, parseString(s, pos, lineNo));
            else skipValue(s, pos, lineNo);
            pos[0] = skipWs(s, pos[0]);
            if (pos[0] >= s.length()) throw bad(lineNo, pos[0], "unterminated object");
            char c = s.charAt(pos[0]++);
            if (c == '}') return out;
            if (c != ',') throw bad(lineNo, pos[0] - 1, "expected ',' or '}'");
        }
    }

    static IllegalArgumentException bad(long line, int col, String what) {
        return new IllegalArgumentException("line " + line + ", char " + (col + 1) + ": " + what);
    }

    static int skipWs(String s, int i) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        return i;
    }

    static void expect(String s, int[] pos, char c, long line) {
        if (pos[0] >= s.length() || s.charAt(pos[0]) != c) throw bad(line, pos[0], "expected '" + c + "'");
        pos[0]++;
    }

    static String parseString(String s, int[] pos, long line) {
        expect(s, pos, '"', line);
        StringBuilder sb = new StringBuilder();
        int i = pos[0];
        while (true) {
            if (i >= s.length()) throw bad(line, i, "unterminated string");
            char c = s.charAt(i++);
            if (c == '"') break;
            if (c != '\\') { sb.append(c); continue; }
            if (i >= s.length()) throw bad(line, i, "bad escape");
            char e = s.charAt(i++);
            switch (e) {
                case '"': sb.append('"'); break;
                case '\\': sb.append('\\'); break;
                case '/': sb.append('/'); break;
                case 'b': sb.append('\b'); break;
                case 'f': sb.append('\f'); break;
                case 'n': sb.append('\n'); break;
                case 'r': sb.append('\r'); break;
                case 't': sb.append('\t'); break;
                case 'u':
                    if (i + 4 > s.length()) throw bad(line, i, "bad \\u escape");
                    sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                    i += 4;
                    break;
                default: throw bad(line, i - 1, "bad escape");
            }
        }
        pos[0] = i;
        return sb.toString();
    }

    static void skipValue(String s, int[] pos, long line) {
        int depth = 0, i = pos[0];
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '"') { pos[0] = i; parseString(s, pos, line); i = pos[0]; if (depth == 0) break; continue; }
            if (c == '{' || c == '[') depth++;
            else if (c == '}' || c == ']') { if (depth == 0) break; depth--; if (depth == 0) { i++; break; } }
            else if (depth == 0 && (c == ',')) break;
            i++;
        }
        pos[0] = i;
    }

    static BufferedReader open(String path) throws IOException {
        InputStream in = new BufferedInputStream(new FileInputStream(path), 1 << 20);
        if (path.endsWith(".gz")) in = new GZIPInputStream(in, 1 << 16);
        return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 20);
    }

    // ------------------------------------------------------------------ args
    static Map<String, String> args(String[] a, int from) {
        Map<String, String> m = new HashMap<>();
        for (int i = from; i < a.length; i++) {
            if (!a[i].startsWith("--")) throw new IllegalArgumentException("unexpected argument " + a[i]);
            String k = a[i].substring(2);
            if (k.equals("no-merge") || k.equals("freqs-only")) { m.put(k, "1"); continue; }
            if (i + 1 >= a.length) throw new IllegalArgumentException("--" + k + " needs a value");
            m.put(k, a[++i]);
        }
        return m;
    }

    static String req(Map<String, String> m, String k) {
        String v = m.get(k);
        if (v == null) throw new IllegalArgumentException("missing --" + k);
        return v;
    }

    static long dirBytes(Path dir) throws IOException {
        long n = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) if (Files.isRegularFile(p)) n += Files.size(p);
        }
        return n;
    }

    // ------------------------------------------------------------------ index
    static void index(Map<String, String> a) throws Exception {
        String corpus = req(a, "corpus");
        Path dir = Paths.get(req(a, "index"));
        int threads = Integer.parseInt(a.getOrDefault("threads", "1"));
        double ramMb = Double.parseDouble(a.getOrDefault("ram-mb", "256"));
        boolean merge = !a.containsKey("no-merge");
        // TextField indexes positions; BM25 term queries only read docs+freqs (spar keeps no positions), so
        // --freqs-only gives the like-for-like index size.
        final FieldType bodyType = new FieldType(TextField.TYPE_NOT_STORED);
        if (a.containsKey("freqs-only")) bodyType.setIndexOptions(IndexOptions.DOCS_AND_FREQS);
        bodyType.freeze();
        if (Files.exists(dir)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                for (Path p : ds) Files.delete(p);
            }
        }
        Files.createDirectories(dir);
        IndexWriterConfig cfg = new IndexWriterConfig(new EnglishAnalyzer());
        cfg.setSimilarity(new BM25Similarity(K1, B));
        cfg.setRAMBufferSizeMB(ramMb);
        cfg.setOpenMode(IndexWriterConfig.OpenMode.CREATE);
        cfg.setUseCompoundFile(false);
        long t0 = System.nanoTime();
        AtomicLong nDocs = new AtomicLong();
        final long[] lineNo = {0};
        try (FSDirectory fsd = FSDirectory.open(dir); IndexWriter w = new IndexWriter(fsd, cfg);
             BufferedReader r = open(corpus)) {
            final int batch = 512;
            Thread[] ts = new Thread[threads];
            Throwable[] err = new Throwable[1];
            for (int t = 0; t < threads; t++) {
                ts[t] = new Thread(() -> {
                    String[] lines = new String[batch];
                    long[] nos = new long[batch];
                    Document doc = new Document();
                    StringField idF = new StringField("id", "", Field.Store.YES);
                    Field bodyF = new Field("body", "", bodyType);
                    doc.add(idF);
                    doc.add(bodyF);
                    try {
                        while (true) {
                            int n = 0;
                            synchronized (r) {
                                String l;
                                while (n < batch && (l = r.readLine()) != null) {
                                    lineNo[0]++;
                                    if (l.isEmpty()) continue;
                                    nos[n] = lineNo[0];
                                    lines[n++] = l;
                                }
                            }
                            if (n == 0) break;
                            for (int i = 0; i < n; i++) {
                                Map<String, String> o = parseJsonLine(lines[i], nos[i]);
                                String id = o.get("_id");
                                if (id == null) throw bad(nos[i], 0, "no \"_id\"");
                                String title = o.getOrDefault("title", ""), text = o.getOrDefault("text", "");
                                idF.setStringValue(id);
                                bodyF.setStringValue(title.isEmpty() ? text : title + " " + text);
                                w.addDocument(doc);
                            }
                            nDocs.addAndGet(n);
                        }
                    } catch (Throwable e) {
                        synchronized (err) { if (err[0] == null) err[0] = e; }
                    }
                });
                ts[t].start();
            }
            for (Thread t : ts) t.join();
            if (err[0] != null) throw new RuntimeException(corpus + ": " + err[0].getMessage(), err[0]);
            w.commit();
            long t1 = System.nanoTime();
            long bytesUnmerged = dirBytes(dir);
            if (merge) {
                w.forceMerge(1);
                w.commit();
            }
            long t2 = System.nanoTime();
            w.close();
            double s1 = (t1 - t0) / 1e9, s2 = (t2 - t0) / 1e9;
            long n = nDocs.get();
            System.out.printf(Locale.ROOT,
                "{\"engine\":\"lucene\",\"op\":\"index\",\"corpus\":\"%s\",\"threads\":%d,\"docs\":%d," +
                "\"index_s\":%.3f,\"merge_s\":%.3f,\"total_s\":%.3f,\"docs_per_s\":%.1f,\"docs_per_s_with_merge\":%.1f," +
                "\"index_bytes\":%d,\"index_bytes_unmerged\":%d,\"merged\":%b,\"postings\":\"%s\"}%n",
                esc(corpus), threads, n, s1, s2 - s1, s2, n / s1, n / s2, dirBytes(dir), bytesUnmerged, merge,
                a.containsKey("freqs-only") ? "freqs" : "positions");
        }
    }

    static String esc(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    // ------------------------------------------------------------------ search
    static Query buildQuery(Analyzer an, String text) throws IOException {
        LinkedHashMap<String, Integer> tf = new LinkedHashMap<>();
        try (TokenStream ts = an.tokenStream("body", text)) {
            CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
            ts.reset();
            while (ts.incrementToken()) tf.merge(term.toString(), 1, Integer::sum);
            ts.end();
        }
        if (tf.isEmpty()) return null;
        BooleanQuery.Builder b = new BooleanQuery.Builder();
        for (Map.Entry<String, Integer> e : tf.entrySet()) {
            Query tq = new TermQuery(new Term("body", e.getKey()));
            if (e.getValue() > 1) tq = new BoostQuery(tq, e.getValue());
            b.add(tq, BooleanClause.Occur.SHOULD);
        }
        return b.build();
    }

    static TopDocs topK(IndexSearcher s, Query q, int k) throws IOException {
        TopScoreDocCollector c = TopScoreDocCollector.create(k, k);
        s.search(q, c);
        return c.topDocs();
    }

    static double pct(long[] sorted, double p) {
        if (sorted.length == 0) return 0;
        int i = (int) Math.ceil(p * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    static void search(Map<String, String> a) throws Exception {
        Path dir = Paths.get(req(a, "index"));
        String qpath = req(a, "queries");
        int threads = Integer.parseInt(a.getOrDefault("threads", "1"));
        int warmup = Integer.parseInt(a.getOrDefault("warmup", "3"));
        int reps = Integer.parseInt(a.getOrDefault("reps", "5"));
        String runPath = a.get("run");
        String[] kstr = a.getOrDefault("k", "10,1000").split(",");
        int[] ks = new int[kstr.length];
        for (int i = 0; i < ks.length; i++) ks[i] = Integer.parseInt(kstr[i].trim());
        BooleanQuery.setMaxClauseCount(1 << 16);

        Analyzer an = new EnglishAnalyzer();
        List<String> qids = new ArrayList<>();
        List<Query> qs = new ArrayList<>();
        int nEmpty = 0;
        try (BufferedReader r = open(qpath)) {
            String l;
            long no = 0;
            while ((l = r.readLine()) != null) {
                no++;
                if (l.isBlank()) continue;
                Map<String, String> o = parseJsonLine(l, no);
                Query q = buildQuery(an, o.getOrDefault("text", ""));
                if (q == null) { nEmpty++; continue; }
                qids.add(o.get("_id"));
                qs.add(q);
            }
        }
        try (DirectoryReader reader = DirectoryReader.open(FSDirectory.open(dir))) {
            IndexSearcher s = new IndexSearcher(reader);
            s.setSimilarity(new BM25Similarity(K1, B));
            s.setQueryCache(null);
            int nq = qs.size();
            for (int k : ks) {
                for (int w = 0; w < warmup; w++) for (Query q : qs) topK(s, q, k);
                long[] samples = new long[nq * reps];
                long[] cpuSamples = new long[nq * reps]; // per-query thread CPU ns (immune to preemption)
                final java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
                double[] passQps = new double[reps];
                long hitsSum = 0;
                for (int rep = 0; rep < reps; rep++) {
                    final int base = rep * nq;
                    AtomicLong hits = new AtomicLong();
                    Thread[] ts = new Thread[threads];
                    Throwable[] err = new Throwable[1];
                    long w0 = System.nanoTime();
                    for (int t = 0; t < threads; t++) {
                        final int tid = t;
                        ts[t] = new Thread(() -> {
                            try {
                                long h = 0;
                                for (int i = tid; i < nq; i += threads) {
                                    long c0 = mx.getCurrentThreadCpuTime();
                                    long q0 = System.nanoTime();
                                    TopDocs td = topK(s, qs.get(i), k);
                                    samples[base + i] = System.nanoTime() - q0;
                                    cpuSamples[base + i] = mx.getCurrentThreadCpuTime() - c0;
                                    h += td.scoreDocs.length;
                                }
                                hits.addAndGet(h);
                            } catch (Throwable e) {
                                synchronized (err) { if (err[0] == null) err[0] = e; }
                            }
                        });
                        ts[t].start();
                    }
                    for (Thread t : ts) t.join();
                    if (err[0] != null) throw new RuntimeException(err[0]);
                    passQps[rep] = nq / ((System.nanoTime() - w0) / 1e9);
                    hitsSum = hits.get();
                }
                long[] sorted = samples.clone();
                Arrays.sort(sorted);
                long[] cpuSorted = cpuSamples.clone();
                Arrays.sort(cpuSorted);
                // per-query median over the timed passes, then p99 over queries (as bench_query's p99_qmed_us)
                long[] qmed = new long[nq];
                long[] one = new long[reps];
                for (int i = 0; i < nq; i++) {
                    for (int r = 0; r < reps; r++) one[r] = samples[r * nq + i];
                    Arrays.sort(one);
                    qmed[i] = one[reps / 2];
                }
                Arrays.sort(qmed);
                double[] qpsSorted = passQps.clone();
                Arrays.sort(qpsSorted);
                double sum = 0;
                for (long v : samples) sum += v;
                System.out.printf(Locale.ROOT,
                    "{\"engine\":\"lucene\",\"op\":\"search\",\"index\":\"%s\",\"k\":%d,\"threads\":%d,\"queries\":%d," +
                    "\"empty_queries\":%d,\"reps\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f,\"qps\":%.1f," +
                    "\"avg_hits\":%.1f,\"p99_qmed_us\":%.1f,\"cpu_p50_us\":%.1f,\"cpu_p99_us\":%.1f}%n",
                    esc(dir.toString()), k, threads, nq, nEmpty, reps, pct(sorted, 0.5) / 1e3, pct(sorted, 0.99) / 1e3,
                    sum / samples.length / 1e3, qpsSorted[reps / 2], (double) hitsSum / Math.max(1, nq),
                    pct(qmed, 0.99) / 1e3, pct(cpuSorted, 0.5) / 1e3, pct(cpuSorted, 0.99) / 1e3);
            }
            if (runPath != null) {
                int k = Arrays.stream(ks).max().getAsInt();
                try (PrintWriter pw = new PrintWriter(Files.newBufferedWriter(Paths.get(runPath), StandardCharsets.UTF_8))) {
                    for (int i = 0; i < qs.size(); i++) {
                        TopDocs td = topK(s, qs.get(i), k);
                        int rank = 1;
                        for (ScoreDoc sd : td.scoreDocs) {
                            String id = s.doc(sd.doc).get("id");
                            pw.printf(Locale.ROOT, "%s Q0 %s %d %.6f lucene%n", qids.get(i), id, rank++, sd.score);
                        }
                    }
                }
            }
        }
    }

    /** analyze: each stdin line -> its EnglishAnalyzer terms, space-separated (for analyzer parity checks). */
    static void analyze() throws IOException {
        Analyzer an = new EnglishAnalyzer();
        BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 16);
        PrintWriter pw = new PrintWriter(new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16));
        String l;
        while ((l = r.readLine()) != null) {
            StringBuilder sb = new StringBuilder();
            try (TokenStream ts = an.tokenStream("body", l)) {
                CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
                ts.reset();
                while (ts.incrementToken()) { if (sb.length() > 0) sb.append(' '); sb.append(term); }
                ts.end();
            }
            pw.println(sb);
        }
        pw.flush();
    }

    public static void main(String[] argv) {
        if (argv.length == 1 && argv[0].equals("analyze")) {
            try { analyze(); } catch (IOException e) { System.err.println("LuceneBench: " + e); System.exit(1); }
            return;
        }
        if (argv.length < 1 || !(argv[0].equals("index") || argv[0].equals("search"))) {
            System.err.println("usage: LuceneBench index --corpus C.jsonl[.gz] --index DIR [--threads N] [--ram-mb MB] [--no-merge] [--freqs-only]\n" +
                               "       LuceneBench search --index DIR --queries Q.jsonl [--k 10,1000] [--threads N]" +
                               " [--warmup W] [--reps R] [--run OUT.trec]\n" +
                               "       LuceneBench analyze   < lines > terms per line (EnglishAnalyzer)");
            System.exit(2);
        }
        try {
            Map<String, String> a = args(argv, 1);
            if (argv[0].equals("index")) index(a);
            else search(a);
        } catch (IllegalArgumentException e) {
            System.err.println("LuceneBench: " + e.getMessage());
            System.exit(2);
        } catch (Exception e) {
            System.err.println("LuceneBench: " + e);
            e.printStackTrace();
            System.exit(1);
        }
    }
}
