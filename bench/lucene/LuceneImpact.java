/* bench/lucene/LuceneImpact.java — the Lucene 8 peer for spar's learned-sparse exact search
 * (bench/sparse/run_lucene.sh, results in bench/sparse/lucene.md). Debian liblucene8-java (lucene-core only), OpenJDK 17.
 *
 *   index  --csr X.csr --index DIR [--ram-mb 512]
 *          a bench_sparse_gen SPCSR001 corpus ("SPCSR001", u32 n, u32 dim, u64 nnz, u64 off[n+1], u16 ids[nnz],
 *          f32 w[nnz], little-endian) -> one document per row: StoredField "id" = row number and one
 *          FeatureField("f", "<term id>", weight) per non-zero. FeatureField keeps a weight's top 9 significant
 *          bits (the float's bits >>> 15 stored as the term frequency), so Lucene's scores are the true scores
 *          up to a relative truncation of < 2^-8 per term. One indexing thread; forceMerge(1).
 *   search --index DIR --queries q.tsv [--k 10] [--warmup 3] [--reps 3] [--run OUT]
 *          q.tsv lines "qid<TAB>termid:weight ..." (written by bench_impact queries; weights <= 64, Lucene's limit).
 *          Each query = BooleanQuery of SHOULD FeatureField.newLinearQuery("f", term, weight), built before
 *          timing. Top-k through TopScoreDocCollector.create(k, k) (no exact hit count, so block-max/WAND
 *          skipping over the FeatureField impacts is allowed). One thread. `warmup` untimed passes over all
 *          queries (JIT), then `reps` timed passes, one System.nanoTime sample per (query, pass), and one
 *          sample of the thread's CPU time (ThreadMXBean), which preemption on a shared machine does not inflate.
 *          Prints one JSON line; --run writes the top-k (untimed pass) as a TREC run with the stored ids. */
import java.io.*;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.*;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;

import org.apache.lucene.document.*;
import org.apache.lucene.index.*;
import org.apache.lucene.search.*;
import org.apache.lucene.store.FSDirectory;

public final class LuceneImpact {
    static String opt(String[] a, String name, String def) {
        for (int i = 1; i + 1 < a.length; i++) if (a[i].equals(name)) return a[i + 1];
        return def;
    }

    static void index(String[] a) throws Exception {
        String csr = opt(a, "--csr", null), dir = opt(a, "--index", null);
        double ramMb = Double.parseDouble(opt(a, "--ram-mb", "512"));
        long t0 = System.nanoTime();
        try (FileChannel ch = FileChannel.open(Paths.get(csr), StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer hdr = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(hdr, 0);
            hdr.flip();
            byte[] magic = new byte[8];
            hdr.get(magic);
            if (!new String(magic, StandardCharsets.US_ASCII).equals("SPCSR001")) throw new IOException(csr + ": not SPCSR001");
            int n = hdr.getInt();
            hdr.getInt(); // dim
            long nnz = hdr.getLong();
            long offAt = 24, idsAt = offAt + 8L * (n + 1), wAt = idsAt + 2L * nnz;
            if (wAt + 4L * nnz != size) throw new IOException(csr + ": size mismatch");
            LongBuffer off = ch.map(FileChannel.MapMode.READ_ONLY, offAt, 8L * (n + 1)).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer();
            ShortBuffer ids = ch.map(FileChannel.MapMode.READ_ONLY, idsAt, 2L * nnz).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
            FloatBuffer ws = ch.map(FileChannel.MapMode.READ_ONLY, wAt, 4L * nnz).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            IndexWriterConfig cfg = new IndexWriterConfig();
            cfg.setRAMBufferSizeMB(ramMb);
            cfg.setOpenMode(IndexWriterConfig.OpenMode.CREATE);
            try (IndexWriter w = new IndexWriter(FSDirectory.open(Paths.get(dir)), cfg)) {
                for (int d = 0; d < n; d++) {
                    Document doc = new Document();
                    doc.add(new StoredField("id", Integer.toString(d)));
                    for (long i = off.get(d); i < off.get(d + 1); i++) {
                        float v = ws.get((int) i);
                        if (v > 0) doc.add(new FeatureField("f", Integer.toString(ids.get((int) i) & 0xffff), v));
                    }
                    w.addDocument(doc);
                }
                long t1 = System.nanoTime();
                w.forceMerge(1);
                w.commit();
                long t2 = System.nanoTime();
                long bytes = 0;
                for (File f : new File(dir).listFiles()) bytes += f.length();
                System.out.printf(Locale.ROOT, "{\"engine\":\"lucene\",\"docs\":%d,\"nnz\":%d,\"index_s\":%.2f,\"merge_s\":%.2f,\"bytes\":%d}%n",
                        n, nnz, (t1 - t0) / 1e9, (t2 - t1) / 1e9, bytes);
            }
        }
    }

    static void search(String[] a) throws Exception {
        String dir = opt(a, "--index", null), qpath = opt(a, "--queries", null), run = opt(a, "--run", null);
        int k = Integer.parseInt(opt(a, "--k", "10"));
        int warmup = Integer.parseInt(opt(a, "--warmup", "3")), reps = Integer.parseInt(opt(a, "--reps", "3"));
        List<String> qids = new ArrayList<>();
        List<Query> qs = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get(qpath), StandardCharsets.UTF_8)) {
            int tab = line.indexOf('\t');
            if (tab < 0) continue;
            BooleanQuery.Builder b = new BooleanQuery.Builder();
            String rest = line.substring(tab + 1).trim();
            if (!rest.isEmpty())
                for (String t : rest.split(" ")) {
                    int c = t.indexOf(':');
                    b.add(FeatureField.newLinearQuery("f", t.substring(0, c), Float.parseFloat(t.substring(c + 1))),
                          BooleanClause.Occur.SHOULD);
                }
            qids.add(line.substring(0, tab));
            qs.add(b.build());
        }
        long o0 = System.nanoTime();
        try (DirectoryReader r = DirectoryReader.open(FSDirectory.open(Paths.get(dir)))) {
            IndexSearcher s = new IndexSearcher(r);
            double openS = (System.nanoTime() - o0) / 1e9;
            double[] lat = new double[qs.size() * reps], cpu = new double[qs.size() * reps];
            ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            int ns = 0;
            long sink = 0;
            for (int pass = 0; pass < warmup + reps; pass++) {
                for (Query q : qs) {
                    long c0 = mx.getCurrentThreadCpuTime(), t0 = System.nanoTime();
                    TopScoreDocCollector c = TopScoreDocCollector.create(k, k);
                    s.search(q, c);
                    TopDocs td = c.topDocs();
                    long t1 = System.nanoTime(), c1 = mx.getCurrentThreadCpuTime();
                    sink += td.scoreDocs.length;
                    if (pass >= warmup) {
                        cpu[ns] = (c1 - c0) / 1e6;
                        lat[ns++] = (t1 - t0) / 1e6;
                    }
                }
            }
            if (run != null) {
                try (PrintWriter pw = new PrintWriter(new BufferedWriter(new FileWriter(run)))) {
                    for (int i = 0; i < qs.size(); i++) {
                        TopScoreDocCollector c = TopScoreDocCollector.create(k, k);
                        s.search(qs.get(i), c);
                        ScoreDoc[] sd = c.topDocs().scoreDocs;
                        for (int j = 0; j < sd.length; j++)
                            pw.printf(Locale.ROOT, "%s Q0 %s %d %.6f lucene%n", qids.get(i), s.doc(sd[j].doc).get("id"), j + 1, sd[j].score);
                    }
                }
            }
            double sum = 0, csum = 0;
            for (int i = 0; i < ns; i++) { sum += lat[i]; csum += cpu[i]; }
            Arrays.sort(lat, 0, ns);
            Arrays.sort(cpu, 0, ns);
            System.out.printf(Locale.ROOT,
                    "{\"engine\":\"lucene\",\"k\":%d,\"queries\":%d,\"reps\":%d,\"warmup\":%d,\"open_s\":%.2f,\"median_ms\":%.4f,"
                    + "\"p90_ms\":%.4f,\"p99_ms\":%.4f,\"mean_ms\":%.4f,\"cpu_median_ms\":%.4f,\"cpu_p99_ms\":%.4f,\"cpu_mean_ms\":%.4f,\"hits\":%d}%n",
                    k, qs.size(), reps, warmup, openS, lat[ns / 2], lat[(int) (ns * 0.90)], lat[(int) (ns * 0.99)], sum / ns,
                    cpu[ns / 2], cpu[(int) (ns * 0.99)], csum / ns, sink);
        }
    }

    public static void main(String[] a) throws Exception {
        if (a.length >= 1 && a[0].equals("index")) index(a);
        else if (a.length >= 1 && a[0].equals("search")) search(a);
        else {
            System.err.println("usage: LuceneImpact index --csr X.csr --index DIR | search --index DIR --queries q.tsv [--k 10] [--run OUT]");
            System.exit(2);
        }
    }
}
