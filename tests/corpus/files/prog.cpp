#include <iostream>
#include <vector>

namespace demo {
class Box {
public:
    explicit Box(int v) : v_(v) {}
    int get() const { return v_; }
private:
    int v_;
};
}

int main() {
    std::vector<demo::Box> boxes{demo::Box(1)};
    std::cout << boxes[0].get() << std::endl;
}
