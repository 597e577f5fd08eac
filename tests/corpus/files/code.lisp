;; a lisp file
(defun square (x)
  (* x x))
(print (square 3))
