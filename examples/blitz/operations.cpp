// Blitz, part 2: arithmetic four ways, indexing and slicing as views,
// reshaping with an inferred size, and item().
#include "kiln/runtime/Ops.h"

#include <iostream>

int main() {
  kiln::Tensor x = kiln::rand({5, 3}, /*seed=*/1);
  kiln::Tensor y = kiln::rand({5, 3}, /*seed=*/2);

  // Addition by operator, by function, and into a tensor you own.
  kiln::Tensor byOperator = x + y;
  kiln::Tensor byFunction = kiln::add(x, y);
  kiln::Tensor result = kiln::Tensor::empty({5, 3});
  kiln::add(x, y, result);
  std::cout << result << "\n";
  std::cout << "all three agree: " << std::boolalpha
            << (byOperator.allClose(byFunction, 0, 0) &&
                byOperator.allClose(result, 0, 0))
            << "\n";

  // In place: the trailing underscore (or +=) changes y itself.
  kiln::add_(y, x);
  std::cout << "in place agrees: " << y.allClose(result, 0, 0) << "\n";

  // x[:, 1] is select(1, 1): a view, so writing to it writes to x.
  kiln::Tensor column = x.select(1, 1);
  std::cout << column << "\n";
  kiln::add_(column, 100);
  std::cout << "x[0, 1] after adding 100 to the view: " << x.at({0, 1})
            << "\n";
  // x[1:3] is slice(0, 1, 3), also a view.
  std::cout << "rows 1..2: " << kiln::shapeToString(x.slice(0, 1, 3).shape())
            << "\n";

  // Reshaping; -1 is worked out from the other sizes.
  kiln::Tensor a = kiln::randn({4, 4}, /*seed=*/3);
  kiln::Tensor b = a.reshape({16});
  kiln::Tensor c = a.reshape({-1, 8});
  std::cout << kiln::shapeToString(a.shape()) << " "
            << kiln::shapeToString(b.shape()) << " "
            << kiln::shapeToString(c.shape()) << "\n";
  try {
    a.reshape({3, -1});
  } catch (const kiln::Error &error) {
    std::cout << "refused: " << error.what() << "\n";
  }

  // A one-element tensor's value as a plain double.
  kiln::Tensor one = kiln::tensor({0.25});
  std::cout << one << " holds " << one.item() << "\n";
  return 0;
}
