<?php
$x = array(1, 2, 3);
foreach ($x as $v) { echo $v; }
?>
