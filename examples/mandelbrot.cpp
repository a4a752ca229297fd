// An imbalanced loop: render the Mandelbrot set with taskforge::parallel_for over rows, check it against the serial
// loop, print the speedup, and write the picture as a PNG.
// Rows through the set cost hundreds of times more than rows outside it, so equal static pieces would leave workers
// idle; the adaptive partition (partition.hpp) splits where workers steal.
//
//   example_mandelbrot [width [output.png]]     (default 1200 px wide, written to mandelbrot.png)
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <taskforge/taskforge.hpp>
#include <vector>

namespace {

constexpr int max_iterations = 1000;

struct image {
    int width;
    int height;
    std::vector<std::uint8_t> rgb;  // row-major, 3 bytes per pixel
};

// Escape time of the point for pixel (x, y), in [0, max_iterations].
int escape_time(const image& picture, int x, int y) {
    const double re = -2.2 + 3.2 * x / picture.width;
    const double im = -1.2 + 2.4 * y / picture.height;
    double zr = 0.0;
    double zi = 0.0;
    int iteration = 0;
    while (iteration < max_iterations && zr * zr + zi * zi <= 4.0) {
        const double next = zr * zr - zi * zi + re;
        zi = 2.0 * zr * zi + im;
        zr = next;
        ++iteration;
    }
    return iteration;
}

void render_row(image& picture, int y) {
    for (int x = 0; x < picture.width; ++x) {
        const int time = escape_time(picture, x, y);
        const std::size_t offset =
            (static_cast<std::size_t>(y) * static_cast<std::size_t>(picture.width) + static_cast<std::size_t>(x)) * 3;
        std::uint8_t* pixel = &picture.rgb[offset];
        if (time == max_iterations) {
            pixel[0] = pixel[1] = pixel[2] = 0;
        } else {
            const double shade = static_cast<double>(time) / 64.0;
            pixel[0] = static_cast<std::uint8_t>(std::min(255.0, 40.0 + 180.0 * shade));
            pixel[1] = static_cast<std::uint8_t>(std::min(255.0, 20.0 + 90.0 * shade * shade));
            pixel[2] = static_cast<std::uint8_t>(std::min(255.0, 90.0 + 160.0 * shade));
        }
    }
}

// --- a minimal PNG writer: stored (uncompressed) deflate blocks, so no zlib is needed -------------------------

std::uint32_t crc32(const std::uint8_t* data, std::size_t size, std::uint32_t crc = 0) {
    static const auto table = [] {
        std::array<std::uint32_t, 256> entries{};
        for (std::uint32_t n = 0; n < 256; ++n) {
            std::uint32_t c = n;
            for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            entries[n] = c;
        }
        return entries;
    }();
    crc = ~crc;
    for (std::size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

void put_chunk(std::vector<std::uint8_t>& out, const char* type, const std::vector<std::uint8_t>& data) {
    put32(out, static_cast<std::uint32_t>(data.size()));
    std::vector<std::uint8_t> typed(type, type + 4);
    typed.insert(typed.end(), data.begin(), data.end());
    out.insert(out.end(), typed.begin(), typed.end());
    put32(out, crc32(typed.data(), typed.size()));
}

bool write_png(const image& picture, const std::string& path) {
    std::vector<std::uint8_t> raw;  // each row: filter byte 0, then RGB
    const std::size_t row_bytes = static_cast<std::size_t>(picture.width) * 3;
    for (int y = 0; y < picture.height; ++y) {
        raw.push_back(0);
        const auto* row = &picture.rgb[static_cast<std::size_t>(y) * row_bytes];
        raw.insert(raw.end(), row, row + row_bytes);
    }
    std::vector<std::uint8_t> zlib = {0x78, 0x01};
    std::uint32_t a = 1;
    std::uint32_t b = 0;
    for (const std::uint8_t byte : raw) {
        a = (a + byte) % 65521;
        b = (b + a) % 65521;
    }
    for (std::size_t offset = 0; offset < raw.size(); offset += 65535) {
        const std::size_t length = std::min<std::size_t>(65535, raw.size() - offset);
        zlib.push_back(offset + length == raw.size() ? 1 : 0);  // BFINAL, BTYPE = stored
        zlib.push_back(static_cast<std::uint8_t>(length & 0xFF));
        zlib.push_back(static_cast<std::uint8_t>(length >> 8));
        zlib.push_back(static_cast<std::uint8_t>(~length & 0xFF));
        zlib.push_back(static_cast<std::uint8_t>((~length >> 8) & 0xFF));
        zlib.insert(zlib.end(), raw.begin() + static_cast<std::ptrdiff_t>(offset),
                    raw.begin() + static_cast<std::ptrdiff_t>(offset + length));
    }
    put32(zlib, (b << 16) | a);

    std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    std::vector<std::uint8_t> header;
    put32(header, static_cast<std::uint32_t>(picture.width));
    put32(header, static_cast<std::uint32_t>(picture.height));
    header.insert(header.end(), {8, 2, 0, 0, 0});  // 8 bits, RGB, deflate, no filter method, no interlace
    put_chunk(png, "IHDR", header);
    put_chunk(png, "IDAT", zlib);
    put_chunk(png, "IEND", {});
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) return false;
    const bool written = std::fwrite(png.data(), 1, png.size(), file) == png.size();
    return std::fclose(file) == 0 && written;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    const int width = argc > 1 ? std::atoi(argv[1]) : 1200;
    const std::string path = argc > 2 ? argv[2] : "mandelbrot.png";
    if (width < 4) {
        std::fprintf(stderr, "usage: example_mandelbrot [width >= 4 [output.png]]\n");
        return 2;
    }
    const int height = width * 3 / 4;
    const std::size_t bytes = static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3;

    image serial{width, height, std::vector<std::uint8_t>(bytes)};
    auto start = std::chrono::steady_clock::now();
    for (int y = 0; y < height; ++y) render_row(serial, y);
    const double serial_seconds = seconds_since(start);

    taskforge::scheduler pool;  // hardware_concurrency() workers
    image parallel{width, height, std::vector<std::uint8_t>(bytes)};
    start = std::chrono::steady_clock::now();
    taskforge::parallel_for(pool, 0, height, [&parallel](int y) { render_row(parallel, y); });
    const double parallel_seconds = seconds_since(start);

    const bool same = parallel.rgb == serial.rgb;
    const bool written = write_png(parallel, path);
    std::printf("%dx%d Mandelbrot: serial %.1f ms, parallel_for %.1f ms on %zu workers, speedup %.2fx: %s; %s %s\n",
                width, height, serial_seconds * 1e3, parallel_seconds * 1e3, pool.thread_count(),
                serial_seconds / parallel_seconds, same ? "same image" : "DIFFERENT IMAGE",
                written ? "wrote" : "could not write", path.c_str());
    return same && written ? 0 : 1;
}
